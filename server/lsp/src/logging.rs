//! Logging through `tracing`: to stderr always (stdout is the protocol channel in `lsp`
//! mode), and also to the file named by `WARDEN_LOG_FILE`. `WARDEN_LOG` sets the filter
//! (default `info` for `lsp`, `warn` for CLI commands); tower-lsp-server is held at
//! `warn` so message bodies never reach a log. Panics are logged, not printed.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the subscriber and the panic hook.
pub fn init(lsp_mode: bool) {
    let default = if lsp_mode { "info" } else { "warn" };
    let mut directives = std::env::var("WARDEN_LOG").unwrap_or_else(|_| default.to_owned());
    // tower-lsp-server logs whole messages (document text, possibly secrets) at debug
    // and trace; keep it at warn unless the user names it explicitly.
    if !directives.contains("tower_lsp_server") {
        directives.push_str(",tower_lsp_server=warn");
    }
    let filter = EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("warden: invalid WARDEN_LOG {directives:?} ({e}); using {default}");
        EnvFilter::new(default)
    });
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false);
    let file = std::env::var_os("WARDEN_LOG_FILE").and_then(|path| {
        match OpenOptions::new().create(true).append(true).open(&path) {
            Ok(f) => Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(Mutex::new(f))
                    .with_ansi(false),
            ),
            Err(e) => {
                eprintln!(
                    "warden: cannot open WARDEN_LOG_FILE {}: {e}",
                    path.to_string_lossy()
                );
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!("panic{location}: {payload}");
    }));
}
