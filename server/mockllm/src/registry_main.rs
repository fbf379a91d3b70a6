//! `warden-mock-registry DIR [PORT]`: serves a folder of OSV records (and recorded
//! package metadata) on 127.0.0.1 as an OSV mirror and a metadata API until killed, and
//! prints one JSON line with both base URLs (each holding the server's token as
//! basic-authentication credentials).

use clap::Parser;

/// A loopback OSV mirror and package metadata API for warden's tests and demo.
#[derive(Parser)]
#[command(name = "warden-mock-registry", version)]
struct Args {
    /// The OSV records: `<Ecosystem>/<ID>.json`.
    dir: std::path::PathBuf,
    /// Recorded metadata answers: `<SYSTEM>/<name>.json` (default: `DIR/_deps`).
    #[arg(long, value_name = "DIR")]
    metadata: Option<std::path::PathBuf>,
    /// The port on 127.0.0.1 (0: one the system chooses).
    #[arg(default_value_t = 0)]
    port: u16,
}

fn main() {
    let args = Args::parse();
    let deps = args.metadata.unwrap_or_else(|| args.dir.join("_deps"));
    let mirror = warden_mockllm::mirror::MockMirror::start_on(&args.dir, &deps, args.port);
    println!(
        "{}",
        serde_json::json!({"osv": mirror.osv_url(), "metadata": mirror.deps_url()})
    );
    loop {
        std::thread::park();
    }
}
