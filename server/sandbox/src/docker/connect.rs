//! Which engine to talk to and how: a `run.engine` URL, else `DOCKER_HOST`, else the
//! default socket ([`resolve`]); TLS for `tcp://` when `DOCKER_TLS_VERIFY` or
//! `DOCKER_CERT_PATH` is set and always for `https://`, with `ca.pem`, `cert.pem` and
//! `key.pem` from `DOCKER_CERT_PATH` (else `~/.docker`), as the docker CLI does. The
//! certificate files are checked before anything is sent, and every failure becomes a
//! sentence that names the engine, where its address came from and what to change
//! ([`Target::unreachable`]). Pure over an [`EnvVars`] snapshot, so tests need no
//! process environment.

use std::path::PathBuf;

use crate::SandboxError;

pub(crate) const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
pub(crate) const HINT: &str = "start the engine (`sudo systemctl start docker`, or `sudo dockerd &`), or point warden.run.engine or DOCKER_HOST at one (tcp://HOST:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH holding ca.pem, cert.pem and key.pem for TLS; unix:///run/podman/podman.sock for Podman)";
const CERT_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// The environment variables the docker CLI reads, captured once.
#[derive(Debug, Clone, Default)]
pub struct EnvVars {
    pub docker_host: Option<String>,
    pub tls_verify: bool,
    pub cert_path: Option<String>,
    pub home: Option<String>,
}

impl EnvVars {
    pub fn from_process() -> EnvVars {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        EnvVars {
            docker_host: var("DOCKER_HOST"),
            tls_verify: var("DOCKER_TLS_VERIFY").is_some(),
            cert_path: var("DOCKER_CERT_PATH"),
            home: var("HOME"),
        }
    }
}

/// Where an engine's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `warden.run.engine` (the workspace's effective settings).
    Setting,
    /// The `DOCKER_HOST` environment variable of the warden process.
    DockerHost,
    /// Neither is set: the default socket.
    Default,
}

impl Source {
    /// The wire name (`setting`, `dockerHost`, `default`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Setting => "setting",
            Source::DockerHost => "dockerHost",
            Source::Default => "default",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Source::Setting => "warden.run.engine",
            Source::DockerHost => "DOCKER_HOST",
            Source::Default => "the default; DOCKER_HOST is not set",
        }
    }
}

/// An engine to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    pub source: Source,
    /// The certificate folder, when the connection uses TLS.
    pub tls: Option<PathBuf>,
    /// Where the folder came from (`DOCKER_CERT_PATH`, `~/.docker`).
    pub certs_from: &'static str,
}

/// The engine for a `run.engine` value (`None`: unset).
pub fn resolve(engine: Option<&str>, env: &EnvVars) -> Target {
    let (url, source) = match (engine.filter(|e| !e.is_empty()), &env.docker_host) {
        (Some(e), _) => (e.to_owned(), Source::Setting),
        (None, Some(h)) => (h.clone(), Source::DockerHost),
        (None, None) => (DEFAULT_SOCKET.to_owned(), Source::Default),
    };
    let tcp = url.starts_with("tcp://");
    let wants_tls =
        url.starts_with("https://") || (tcp && (env.tls_verify || env.cert_path.is_some()));
    let (dir, certs_from) = match (&env.cert_path, &env.home) {
        (Some(p), _) => (Some(PathBuf::from(p)), "DOCKER_CERT_PATH"),
        (None, Some(h)) => (
            Some(PathBuf::from(h).join(".docker")),
            "~/.docker, as DOCKER_CERT_PATH is not set",
        ),
        (None, None) => (None, "DOCKER_CERT_PATH (not set, and there is no HOME)"),
    };
    Target {
        url,
        source,
        tls: if wants_tls {
            Some(dir.unwrap_or_default())
        } else {
            None
        },
        certs_from,
    }
}

impl Target {
    /// `tcp://127.0.0.1:2376 (warden.run.engine) with TLS (certificates in /c, from
    /// DOCKER_CERT_PATH)`: what was tried, for messages.
    pub fn describe(&self) -> String {
        let mut s = format!("{} ({})", self.url, self.source.label());
        if let Some(dir) = &self.tls {
            s.push_str(&format!(
                " with TLS (certificates in {}, from {})",
                dir.display(),
                self.certs_from
            ));
        }
        s
    }

    /// The TLS files, checked: the first missing one is an error that says what the
    /// folder must hold.
    pub fn cert_files(&self) -> Result<Option<[PathBuf; 3]>, SandboxError> {
        let Some(dir) = &self.tls else {
            return Ok(None);
        };
        let files = CERT_FILES.map(|f| dir.join(f));
        if let Some(missing) = files.iter().find(|f| !f.is_file()) {
            return Err(SandboxError::Unreachable(format!(
                "cannot reach the Docker engine at {}: {} does not exist; DOCKER_CERT_PATH must name a folder holding the engine's CA certificate (ca.pem) and a client certificate and key it trusts (cert.pem, key.pem)",
                self.describe(),
                missing.display()
            )));
        }
        Ok(Some(files))
    }

    /// The error for a failed connection, from the error's whole chain of causes.
    pub fn unreachable(&self, cause: &str) -> SandboxError {
        let cause = cause.trim();
        let lower = cause.to_ascii_lowercase();
        let message = if lower.contains("http request to an https server") {
            format!(
                "cannot reach the Docker engine at {}: the engine expects TLS ({cause}); set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to a folder holding ca.pem, cert.pem and key.pem, or use an https:// URL",
                self.describe()
            )
        } else if self.tls.is_some()
            && [
                "certificate",
                "tls",
                "handshake",
                "alert",
                "unknownissuer",
                "notvalidforname",
            ]
            .iter()
            .any(|w| lower.contains(w))
        {
            format!(
                "the Docker engine at {} refused the TLS connection ({cause}); the engine's certificate must be signed by ca.pem and valid for the host name, and cert.pem must be a client certificate the engine's --tlscacert signed",
                self.describe()
            )
        } else if self.tls.is_some() {
            format!(
                "cannot reach the Docker engine at {}: {cause}; if the connection was cut during the TLS handshake, the engine did not accept the client certificate in cert.pem; {HINT}",
                self.describe()
            )
        } else {
            format!(
                "cannot reach the Docker engine at {}: {cause}; {HINT}",
                self.describe()
            )
        };
        SandboxError::Unreachable(message)
    }
}

/// An error with its causes, without repeating a cause its parent already quotes.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(host: Option<&str>, verify: bool, certs: Option<&str>) -> EnvVars {
        EnvVars {
            docker_host: host.map(String::from),
            tls_verify: verify,
            cert_path: certs.map(String::from),
            home: Some("/home/u".into()),
        }
    }

    #[test]
    fn the_setting_wins_over_docker_host_over_the_default() {
        let t = resolve(
            Some("unix:///run/podman/podman.sock"),
            &env(Some("tcp://h:1"), true, None),
        );
        assert_eq!(
            (t.url.as_str(), t.source, t.tls.is_none()),
            ("unix:///run/podman/podman.sock", Source::Setting, true),
            "no TLS over a socket"
        );
        let t = resolve(None, &env(Some("tcp://h:2375"), false, None));
        assert_eq!(
            (t.url.as_str(), t.source, t.tls.as_deref()),
            ("tcp://h:2375", Source::DockerHost, None)
        );
        assert_eq!(t.describe(), "tcp://h:2375 (DOCKER_HOST)");
        let t = resolve(None, &env(None, false, None));
        assert_eq!(
            (t.url.as_str(), t.source),
            (DEFAULT_SOCKET, Source::Default)
        );
        assert_eq!(
            t.describe(),
            "unix:///var/run/docker.sock (the default; DOCKER_HOST is not set)"
        );
    }

    #[test]
    fn tls_comes_from_the_environment_or_https() {
        let t = resolve(Some("tcp://127.0.0.1:2376"), &env(None, true, Some("/c")));
        assert_eq!(t.tls, Some(PathBuf::from("/c")));
        assert_eq!(
            t.describe(),
            "tcp://127.0.0.1:2376 (warden.run.engine) with TLS (certificates in /c, from DOCKER_CERT_PATH)"
        );
        let t = resolve(Some("tcp://127.0.0.1:2376"), &env(None, true, None));
        assert_eq!(t.tls, Some(PathBuf::from("/home/u/.docker")));
        let t = resolve(Some("https://127.0.0.1:2376"), &env(None, false, None));
        assert!(t.tls.is_some());
        let t = resolve(Some("tcp://127.0.0.1:2375"), &env(None, false, None));
        assert!(t.tls.is_none());
    }

    #[test]
    fn missing_certificates_and_refusals_say_what_to_fix() {
        let dir = std::env::temp_dir().join(format!("warden-no-certs-{}", std::process::id()));
        let t = resolve(
            Some("tcp://127.0.0.1:2376"),
            &env(None, true, Some(dir.to_str().unwrap())),
        );
        let e = t.cert_files().unwrap_err().to_string();
        assert!(
            e.contains("tcp://127.0.0.1:2376 (warden.run.engine)"),
            "{e}"
        );
        assert!(e.contains("ca.pem does not exist"), "{e}");
        assert!(e.contains("DOCKER_CERT_PATH must name a folder"), "{e}");
        let e = t
            .unreachable("invalid peer certificate: UnknownIssuer")
            .to_string();
        assert!(e.contains("refused the TLS connection"), "{e}");
        let plain = resolve(Some("tcp://127.0.0.1:2376"), &env(None, false, None));
        let e = plain
            .unreachable("Client sent an HTTP request to an HTTPS server.")
            .to_string();
        assert!(
            e.contains("expects TLS") && e.contains("DOCKER_TLS_VERIFY=1"),
            "{e}"
        );
        let e = plain.unreachable("connection refused").to_string();
        assert!(
            e.starts_with("cannot reach the Docker engine at tcp://127.0.0.1:2376"),
            "{e}"
        );
        assert!(e.ends_with(HINT), "{e}");
    }
}
