//! Settings: the schema of the `warden` configuration section, validated key by key so
//! one bad value costs only that value (with a warning naming the key), never the rest.
//!
//! Sources, lowest precedence first: editor settings (`initializationOptions` and
//! `workspace/configuration` section `warden`) < the repository's `.warden.toml` <
//! values set by `warden.*` commands (stored in the database, applied by the caller).
//! `.warden.toml` uses the same keys; `snake_case` spellings are accepted too.

pub mod trust;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest accepted system prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 16_000;

/// The name of the per-repository configuration file.
pub const FILE_NAME: &str = ".warden.toml";

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Settings {
    /// Workspace system prompt used by LLM actions when no command set one.
    pub system_prompt: Option<String>,
    pub database: DatabaseSettings,
    pub trace: TraceSettings,
    pub secrets: SecretsSettings,
    pub scan: ScanSettings,
    pub packages: PackagesSettings,
    pub llm: LlmSettings,
    pub run: RunSettings,
    pub gateway: GatewaySettings,
}

/// The local LLM gateway for the AI tools of a workspace (`warden-gateway`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewaySettings {
    /// Start the gateway with the language server.
    pub enabled: bool,
    /// Refuse a reply that brings in a malicious package (else: record and notify).
    pub block_malicious: bool,
    /// Editors point the terminals of each workspace at the gateway (VS Code asks once).
    pub terminals: bool,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            enabled: true,
            block_malicious: false,
            terminals: true,
        }
    }
}

/// Spending limits of a workspace's LLM calls (the gateway's and the actions'), checked
/// before a request is sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// The most a workspace may spend per day (UTC), in USD, at the known prices.
    pub daily_usd: Option<f64>,
    /// The most tokens one request may use: its estimated prompt plus the output it
    /// asks for.
    pub request_tokens: Option<u64>,
}

/// Sandboxed script runs: runners per file pattern, limits, run-all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RunSettings {
    /// The first runner whose `glob` matches a script (by repository-relative path or
    /// file name) runs it.
    pub runners: Vec<Runner>,
    pub limits: RunLimits,
    /// Globs (repository-relative) of the scripts `warden.runAll` and `warden/scripts`
    /// consider.
    pub scripts: Vec<String>,
    /// Scripts of one run-all group running at once.
    pub concurrency: usize,
    /// Started containers kept ready per runner image (0: none); each is used once.
    pub warm_pool: usize,
    /// The Docker engine runs go to (`unix:///path.sock`, `tcp://host:port`,
    /// `https://host:port`); `None`: `DOCKER_HOST`, else the default socket. TLS for
    /// `tcp://` comes from `DOCKER_TLS_VERIFY` / `DOCKER_CERT_PATH`, as for the docker CLI.
    pub engine: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Runner {
    pub glob: String,
    /// A local image; warden never pulls.
    pub image: String,
    /// The interpreter and its options; the script path and arguments follow.
    pub command: Vec<String>,
}

/// Resource and time limits of one sandboxed run (`run.limits.*`); the sandbox crate
/// uses this type as its `Limits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct RunLimits {
    /// Memory in MiB; swap is set equal (no swap).
    pub memory_mb: u64,
    /// CPUs (fractional).
    pub cpus: f64,
    /// Most processes and threads at once.
    pub pids: i64,
    /// Wall-clock seconds before the run is killed (`timedOut`).
    pub timeout_seconds: u64,
    /// Size of the writable `/tmp` (tmpfs), MiB.
    pub tmp_mb: u64,
    /// Open files (`RLIMIT_NOFILE`).
    pub nofile: i64,
    /// Largest file a process may write, MiB (`RLIMIT_FSIZE`).
    pub file_size_mb: i64,
    /// Bytes of stdout kept (and streamed); the rest is counted and dropped.
    pub stdout_bytes: usize,
    /// Bytes of stderr kept (and streamed).
    pub stderr_bytes: usize,
    /// Size of `/out` (tmpfs) and the most artifact bytes collected, MiB.
    pub artifacts_mb: u64,
    /// Largest input file (`warden.run` `input`, `warden run --input`), MiB; larger
    /// files, and anything but a regular file, are refused before the run.
    pub input_mb: u64,
    /// Network access: `false` is `--network none`.
    pub network: bool,
    /// `uid:gid` the script runs as (never root).
    pub user: String,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            memory_mb: 256,
            cpus: 0.5,
            pids: 64,
            timeout_seconds: 30,
            tmp_mb: 64,
            nofile: 256,
            file_size_mb: 64,
            stdout_bytes: 1024 * 1024,
            stderr_bytes: 1024 * 1024,
            artifacts_mb: 8,
            input_mb: 64,
            network: false,
            user: "1000:1000".into(),
        }
    }
}

/// The largest `run.limits.inputMb`: an input is read into memory and uploaded whole.
pub const MAX_INPUT_MB: u64 = 1024;

/// The images `scripts/runner-images.sh` builds.
pub const PYTHON_IMAGE: &str = "warden-runner-python:bookworm";
pub const NODE_IMAGE: &str = "warden-runner-node:bookworm";

impl Default for RunSettings {
    fn default() -> Self {
        let runner = |glob: &str, image: &str, cmd: &str| Runner {
            glob: glob.into(),
            image: image.into(),
            command: vec![cmd.into()],
        };
        RunSettings {
            runners: vec![
                runner("**/*.py", PYTHON_IMAGE, "python3"),
                runner("**/*.sh", PYTHON_IMAGE, "sh"),
                runner("**/*.{js,mjs,cjs}", NODE_IMAGE, "node"),
            ],
            limits: RunLimits::default(),
            scripts: vec!["scripts/**".into()],
            concurrency: 2,
            warm_pool: 0,
            engine: None,
        }
    }
}

impl RunLimits {
    /// Values that would break or weaken the sandbox.
    pub fn check(&self) -> Result<(), String> {
        if self.memory_mb < 16 {
            return Err("memoryMb must be at least 16".into());
        }
        if !(self.cpus > 0.0 && self.cpus <= 64.0) {
            return Err("cpus must be above 0 and at most 64".into());
        }
        if self.pids < 8 {
            return Err("pids must be at least 8".into());
        }
        if self.timeout_seconds == 0 {
            return Err("timeoutSeconds must be at least 1".into());
        }
        if !(1..=MAX_INPUT_MB).contains(&self.input_mb) {
            return Err(format!("inputMb must be between 1 and {MAX_INPUT_MB}"));
        }
        let uid = self.user.split(':').next().unwrap_or("");
        if uid.is_empty() || uid == "0" || uid == "root" {
            return Err("user must be a non-root uid:gid".into());
        }
        Ok(())
    }
}

/// Why `url` cannot be a `run.engine` (`None`: it can).
pub fn check_engine_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    match scheme {
        "unix" if rest.starts_with('/') => None,
        "unix" => Some(format!(
            "{url:?} must name an absolute socket path (unix:///run/docker.sock)"
        )),
        "tcp" | "http" | "https" => {
            let host = rest.trim_end_matches('/');
            let port = host.rsplit_once(':').map(|(_, p)| p);
            if host.is_empty()
                || host.contains('/')
                || port.is_some_and(|p| p.parse::<u16>().is_err())
            {
                Some(format!("{url:?} must be {scheme}://HOST:PORT"))
            } else {
                None
            }
        }
        _ => Some(format!(
            "{url:?} is not a Docker engine URL; use unix:///path/to/docker.sock or tcp://HOST:PORT"
        )),
    }
}

impl RunSettings {
    /// The runner for a repository-relative path: the first whose glob matches the
    /// path or the file name.
    pub fn runner_for(&self, rel_path: &str) -> Option<&Runner> {
        let name = rel_path.rsplit('/').next().unwrap_or(rel_path);
        self.runners.iter().find(|r| {
            globset::Glob::new(&r.glob)
                .map(|g| g.compile_matcher())
                .is_ok_and(|m| m.is_match(rel_path) || m.is_match(name))
        })
    }
}

/// LLM actions: providers, the model per file and action, budgets, guardrails, cache
/// and prices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LlmSettings {
    /// Key of `providers` used when no mux rule matches.
    pub provider: String,
    /// Model used when no mux rule matches (else the provider's own `model`).
    pub model: Option<String>,
    /// Providers by name; the built-in ones can be changed or new ones added.
    pub providers: std::collections::BTreeMap<String, ProviderSettings>,
    /// Model muxing: the first rule whose `glob` (and `action`, if given) matches wins.
    pub mux: Vec<MuxRule>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    /// Longest wait for the first byte and between bytes of a reply.
    pub timeout_seconds: u64,
    pub max_retries: u32,
    /// Budget, in estimated tokens, for the context sent with an action.
    pub context_tokens: usize,
    /// Add the workspace snapshot to the context (lowest priority in the budget).
    pub include_snapshot: bool,
    /// Files matching these globs (by file name or repository-relative path) are never
    /// sent.
    pub exclude: Vec<String>,
    /// Regular expressions (case-insensitive); a prompt matching one is refused.
    pub deny_list: Vec<String>,
    /// Answer identical requests from the response cache.
    pub cache: bool,
    /// USD per million tokens by model, over the built-in table.
    pub prices: std::collections::BTreeMap<String, Price>,
    pub budget: Budget,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderSettings {
    /// `openai` (any OpenAI-compatible server) or `anthropic`.
    pub api: ApiKind,
    pub base_url: String,
    /// Name of the environment variable holding the API key; never the key itself.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The provider's default model.
    #[serde(default)]
    pub model: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiKind {
    Openai,
    Anthropic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MuxRule {
    /// Glob over the repository-relative path (`**/*.py`, `scripts/**`).
    pub glob: String,
    /// `explain`, `fix`, `rewrite`, `docstring` or `tests`; any action when absent.
    #[serde(default)]
    pub action: Option<String>,
    pub provider: String,
    #[serde(default)]
    pub model: Option<String>,
}

/// USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    /// Cached input tokens (defaults to the input price).
    #[serde(default)]
    pub cached: Option<f64>,
}

impl Default for LlmSettings {
    fn default() -> Self {
        let provider = |api, base: &str, key: Option<&str>| ProviderSettings {
            api,
            base_url: base.into(),
            api_key_env: key.map(Into::into),
            model: None,
        };
        let providers = [
            (
                "ollama",
                provider(ApiKind::Openai, "http://localhost:11434/v1", None),
            ),
            (
                "llamacpp",
                provider(ApiKind::Openai, "http://localhost:8080/v1", None),
            ),
            (
                "openrouter",
                provider(
                    ApiKind::Openai,
                    "https://openrouter.ai/api/v1",
                    Some("OPENROUTER_API_KEY"),
                ),
            ),
            (
                "openai",
                provider(
                    ApiKind::Openai,
                    "https://api.openai.com/v1",
                    Some("OPENAI_API_KEY"),
                ),
            ),
            (
                "anthropic",
                provider(
                    ApiKind::Anthropic,
                    "https://api.anthropic.com/v1",
                    Some("ANTHROPIC_API_KEY"),
                ),
            ),
        ];
        LlmSettings {
            provider: "ollama".into(),
            model: None,
            providers: providers.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            mux: Vec::new(),
            max_tokens: 2048,
            temperature: Some(0.2),
            timeout_seconds: 60,
            max_retries: 2,
            context_tokens: 6000,
            include_snapshot: false,
            exclude: [".env*", "*.pem", "*.key", "id_*", "*.p12"]
                .map(String::from)
                .to_vec(),
            deny_list: Vec::new(),
            cache: true,
            prices: Default::default(),
            budget: Budget::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PackagesSettings {
    /// Check manifests and imports against the advisory database.
    pub enabled: bool,
    /// OSV data to import (osv-scanner's `<Ecosystem>/all.zip` folders, zips, folders
    /// of JSON records, JSON files): at start-up, when this list changes, and when the
    /// files change. Relative paths are resolved against the first workspace folder.
    pub osv_paths: Vec<String>,
    /// Seconds between checks of `osvPaths` for changed files; 0 turns polling off.
    pub osv_poll_seconds: u64,
    /// Download advisories in the background (at start-up and when a manifest of an
    /// ecosystem without data is seen) when they are older than `updateHours`.
    /// `WARDEN_OFFLINE=1` turns every download off.
    pub update: bool,
    pub update_hours: u64,
    /// The folder (HTTP or HTTPS URL) holding `<Ecosystem>/all.zip`,
    /// `<Ecosystem>/modified_id.csv` and `<Ecosystem>/<ID>.json`: a team's mirror;
    /// default [`DEFAULT_OSV_MIRROR`], the OSV project's public export.
    pub osv_mirror: Option<String>,
    /// Ecosystems to keep current (`PyPI`, `npm`, `crates.io`, `Go`); empty: those
    /// whose manifests the open workspaces contain.
    pub ecosystems: Vec<String>,
    /// The largest archive downloaded, in MiB.
    pub max_download_mb: u64,
    /// Seconds a download may wait for the next bytes before it is abandoned.
    pub download_timeout_seconds: u64,
    /// Ask a package metadata API whether packages exist, are deprecated or were
    /// published recently (`WARDEN_OFFLINE=1` turns it off).
    pub metadata: bool,
    /// The API's base URL (the deps.dev v3 shapes); default [`DEFAULT_METADATA_URL`].
    pub metadata_url: Option<String>,
    /// Hours an answer is reused before it is asked again.
    pub metadata_ttl_hours: u64,
    /// Pinned or locked versions published less than this many days ago are called out.
    pub cooldown_days: u32,
}

/// The deps.dev API: one API for PyPI, npm, crates.io and Go (versions with publication
/// times, the default version, deprecations).
pub const DEFAULT_METADATA_URL: &str = "https://api.deps.dev";

/// The OSV project's public export, per ecosystem `<Ecosystem>/all.zip` and
/// `<Ecosystem>/modified_id.csv` (the files osv-scanner's offline mode uses).
pub const DEFAULT_OSV_MIRROR: &str = "https://osv-vulnerabilities.storage.googleapis.com";

impl Default for PackagesSettings {
    fn default() -> Self {
        PackagesSettings {
            enabled: true,
            osv_paths: Vec::new(),
            osv_poll_seconds: 60,
            update: true,
            update_hours: 24,
            osv_mirror: None,
            ecosystems: Vec::new(),
            max_download_mb: 2048,
            download_timeout_seconds: 30,
            metadata: true,
            metadata_url: None,
            metadata_ttl_hours: 24,
            cooldown_days: 3,
        }
    }
}

impl PackagesSettings {
    /// The OSV mirror to download from: `osvMirror`, else the environment's
    /// `WARDEN_OSV_MIRROR`, else [`DEFAULT_OSV_MIRROR`].
    pub fn mirror(&self) -> String {
        base_url(
            self.osv_mirror.as_deref(),
            "WARDEN_OSV_MIRROR",
            DEFAULT_OSV_MIRROR,
        )
    }
}

impl PackagesSettings {
    /// The metadata API to ask: `metadataUrl`, else `WARDEN_METADATA_URL`, else
    /// [`DEFAULT_METADATA_URL`].
    pub fn metadata_base(&self) -> String {
        base_url(
            self.metadata_url.as_deref(),
            "WARDEN_METADATA_URL",
            DEFAULT_METADATA_URL,
        )
    }
}

/// A base URL: the setting, else the environment variable, else the default; blank
/// values skipped, no trailing slash.
fn base_url(setting: Option<&str>, env: &str, default: &str) -> String {
    let env = std::env::var(env).ok();
    [setting, env.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|m| !m.is_empty())
        .unwrap_or(default)
        .trim_end_matches('/')
        .to_owned()
}

/// Whether `WARDEN_OFFLINE` asks for no network access (any value but empty and `0`).
pub fn offline() -> bool {
    std::env::var("WARDEN_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0")
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SecretsSettings {
    /// Extra rules in the built-in rule format (`id`, `regex`, `keywords`, ...); a rule
    /// with a built-in id replaces it.
    pub rules: Vec<Value>,
    /// Rule ids to turn off.
    pub disable: Vec<String>,
    /// Glob patterns (relative to the repository root) never scanned for secrets.
    pub allowlist_paths: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ScanSettings {
    /// Scan every workspace when the server starts.
    pub on_startup: bool,
    /// Files above this many bytes are skipped.
    pub max_file_size: u64,
    /// Lines longer than this are treated as minified and skipped.
    pub max_line_length: usize,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            on_startup: true,
            max_file_size: 2 * 1024 * 1024,
            max_line_length: 20_000,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DatabaseSettings {
    /// Database file; `--db`/`WARDEN_DB` win over it. Read once, at `initialize`.
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TraceSettings {
    /// Publish `warden/traceStarted`/`warden/traceFinished` notifications.
    pub live: bool,
    /// Export spans to an OpenTelemetry backend over OTLP/HTTP.
    pub otlp: OtlpSettings,
}

impl Default for TraceSettings {
    fn default() -> Self {
        TraceSettings {
            live: true,
            otlp: OtlpSettings::default(),
        }
    }
}

/// `trace.otlp.*`: where spans are exported. Unset fields fall back to the standard
/// `OTEL_EXPORTER_OTLP_*` variables; with neither, nothing is exported. Only the user's
/// own settings choose them (a repository's `.warden.toml` cannot).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct OtlpSettings {
    /// The traces endpoint URL, used as given (e.g. `http://127.0.0.1:6006/v1/traces`).
    pub endpoint: Option<String>,
    /// Extra request headers (authentication), added to `OTEL_EXPORTER_OTLP_HEADERS`.
    pub headers: std::collections::BTreeMap<String, String>,
    /// Export LLM prompts and replies (redacted, as stored) as span events.
    pub include_content: bool,
}

/// A problem with one key; the key's default was used instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Dotted key, e.g. `warden.trace.live`.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Validates an editor settings object (the `warden` section).
pub fn from_editor(value: &Value) -> (Settings, Vec<Warning>) {
    effective(value, None)
}

/// Editor settings overlaid with a `.warden.toml` overlay (see [`parse_file`]).
pub fn effective(editor: &Value, file: Option<&Value>) -> (Settings, Vec<Warning>) {
    let mut warnings = Vec::new();
    let user = match file {
        Some(overlay) => merge(editor, overlay),
        None => editor.clone(),
    };
    let mut candidate = serde_json::to_value(Settings::default()).expect("settings serialize");
    match &user {
        Value::Object(map) => apply(&mut candidate, map, "warden", &mut warnings),
        Value::Null => {}
        other => warnings.push(Warning {
            key: "warden".into(),
            message: format!("expected an object, got {}; using defaults", kind(other)),
        }),
    }
    let mut settings: Settings =
        serde_json::from_value(candidate).expect("candidate stays valid by construction");
    settings.check(&mut warnings);
    (settings, warnings)
}

impl Settings {
    /// Semantic checks serde cannot express.
    fn check(&mut self, warnings: &mut Vec<Warning>) {
        let llm = &mut self.llm;
        let providers = &llm.providers;
        llm.mux.retain(|rule| {
            let problem = if !providers.contains_key(&rule.provider) {
                Some(format!("unknown provider {:?}", rule.provider))
            } else if globset::Glob::new(&rule.glob).is_err() {
                Some(format!("invalid glob {:?}", rule.glob))
            } else {
                None
            };
            if let Some(p) = &problem {
                warnings.push(Warning {
                    key: "warden.llm.mux".into(),
                    message: format!("{p}; the rule is ignored"),
                });
            }
            problem.is_none()
        });
        llm.deny_list.retain(|pattern| {
            let ok = regex::Regex::new(pattern).is_ok();
            if !ok {
                warnings.push(Warning {
                    key: "warden.llm.denyList".into(),
                    message: format!("{pattern:?} is not a valid regular expression; ignored"),
                });
            }
            ok
        });
        let run = &mut self.run;
        run.runners.retain(|r| {
            let problem = if globset::Glob::new(&r.glob).is_err() {
                Some(format!("invalid glob {:?}", r.glob))
            } else if r.image.trim().is_empty() || r.command.is_empty() {
                Some(format!(
                    "the runner for {:?} needs an image and a command",
                    r.glob
                ))
            } else {
                None
            };
            if let Some(p) = &problem {
                warnings.push(Warning {
                    key: "warden.run.runners".into(),
                    message: format!("{p}; the runner is ignored"),
                });
            }
            problem.is_none()
        });
        if let Err(message) = run.limits.check() {
            warnings.push(Warning {
                key: "warden.run.limits".into(),
                message: format!("{message}; using the default limits"),
            });
            run.limits = RunLimits::default();
        }
        run.scripts.retain(|g| {
            let ok = globset::Glob::new(g).is_ok();
            if !ok {
                warnings.push(Warning {
                    key: "warden.run.scripts".into(),
                    message: format!("invalid glob {g:?}; ignored"),
                });
            }
            ok
        });
        if run.concurrency == 0 {
            warnings.push(Warning {
                key: "warden.run.concurrency".into(),
                message: "must be at least 1; using 1".into(),
            });
            run.concurrency = 1;
        }
        if run.engine.as_deref().is_some_and(|e| e.trim().is_empty()) {
            run.engine = None;
        }
        if let Some(problem) = run.engine.as_deref().and_then(check_engine_url) {
            warnings.push(Warning {
                key: "warden.run.engine".into(),
                message: format!("{problem}; using DOCKER_HOST or the default socket"),
            });
            run.engine = None;
        }
        if let Some(Err(message)) = self.system_prompt.as_deref().map(check_prompt) {
            warnings.push(Warning {
                key: "warden.systemPrompt".into(),
                message: format!("{message}; ignored"),
            });
            self.system_prompt = None;
        }
    }
}

/// The rule every system prompt obeys, from any source.
pub fn check_prompt(prompt: &str) -> Result<(), String> {
    if prompt.trim().is_empty() {
        return Err("the system prompt is empty".into());
    }
    let n = prompt.chars().count();
    if n > MAX_PROMPT_CHARS {
        return Err(format!(
            "the system prompt has {n} characters; the limit is {MAX_PROMPT_CHARS}"
        ));
    }
    Ok(())
}

/// Parses `.warden.toml` text into an overlay for [`effective`]. A syntax error is one
/// warning with its line and column, and an empty overlay.
pub fn parse_file(text: &str, path: &str) -> (Value, Vec<Warning>) {
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => {
            let json = serde_json::to_value(table).unwrap_or(Value::Null);
            (camel_keys(json), Vec::new())
        }
        Err(e) => {
            let location = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    let col = s.start - text[..s.start].rfind('\n').map_or(0, |i| i + 1) + 1;
                    format!(":{line}:{col}")
                })
                .unwrap_or_default();
            (
                Value::Object(Map::new()),
                vec![Warning {
                    key: format!("{path}{location}"),
                    message: format!("{}; the file is ignored until fixed", e.message()),
                }],
            )
        }
    }
}

/// Deep merge: objects merge key by key, anything else in `overlay` replaces `base`.
pub fn merge(base: &Value, overlay: &Value) -> Value {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            let mut out = b.clone();
            for (k, v) in o {
                let merged = match out.get(k) {
                    Some(existing) => merge(existing, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        // No overlay (no `.warden.toml`) changes nothing.
        (b, Value::Null) => b.clone(),
        (_, o) => o.clone(),
    }
}

/// Settings whose keys are names the user chooses (each entry is validated whole).
const MAP_SETTINGS: &[&[&str]] = &[
    &["llm", "providers"],
    &["llm", "prices"],
    &["trace", "otlp", "headers"],
];

/// Applies user keys onto the defaults one leaf at a time, keeping each only if the
/// whole still deserializes; unknown keys and bad values become warnings.
fn apply(
    candidate: &mut Value,
    user: &Map<String, Value>,
    prefix: &str,
    warnings: &mut Vec<Warning>,
) {
    let root = candidate.clone();
    let mut path = Vec::new();
    apply_at(candidate, &root, user, prefix, &mut path, warnings);
}

fn apply_at(
    candidate: &mut Value,
    defaults: &Value,
    user: &Map<String, Value>,
    prefix: &str,
    path: &mut Vec<String>,
    warnings: &mut Vec<Warning>,
) {
    for (key, value) in user {
        path.push(key.clone());
        let dotted = format!("{prefix}.{}", path.join("."));
        let in_map = MAP_SETTINGS
            .iter()
            .any(|m| path.len() == m.len() + 1 && path.iter().zip(m.iter()).all(|(a, b)| a == b));
        match pointer(defaults, path).or(in_map.then_some(&Value::Null)) {
            None => warnings.push(Warning {
                key: dotted,
                message: "unknown setting; ignored".into(),
            }),
            Some(Value::Object(_)) if value.is_object() => {
                let Value::Object(inner) = value else {
                    unreachable!()
                };
                apply_at(candidate, defaults, inner, prefix, path, warnings);
            }
            Some(_) => {
                let previous = set(candidate, path, value.clone());
                if let Err(e) = serde_json::from_value::<Settings>(candidate.clone()) {
                    match previous {
                        Some(v) => {
                            set(candidate, path, v);
                        }
                        None => remove(candidate, path),
                    }
                    warnings.push(Warning {
                        key: dotted,
                        message: format!("{}; using the default", clean_serde(&e.to_string())),
                    });
                }
            }
        }
        path.pop();
    }
}

fn pointer<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, k| v.as_object()?.get(k))
}

/// Sets the value at `path`, returning the one it replaced (`None`: there was none).
fn set(root: &mut Value, path: &[String], value: Value) -> Option<Value> {
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut node = root;
    for k in parents {
        node = node
            .as_object_mut()
            .expect("parents are objects in the defaults")
            .entry(k.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    node.as_object_mut()
        .expect("parent is an object")
        .insert(last.clone(), value)
}

fn remove(root: &mut Value, path: &[String]) {
    let (last, parents) = path.split_last().expect("non-empty path");
    if let Some(Value::Object(map)) = pointer_mut(root, parents) {
        map.remove(last);
    }
}

fn pointer_mut<'v>(v: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter()
        .try_fold(v, |v, k| v.as_object_mut()?.get_mut(k))
}

fn clean_serde(msg: &str) -> String {
    // serde_json appends " at line 0 column 0" for value errors; it means nothing here.
    msg.trim_end_matches(" at line 0 column 0").to_owned()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A TOML file's `snake_case` keys in the settings' camelCase (`system_prompt` ->
/// `systemPrompt`, recursively), except the keys of the [`MAP_SETTINGS`] maps, which are
/// names the user chose (a header, a provider, a model: `x-team`, `gpt-4o-mini`), kept as
/// written; the keys inside their entries are camelCased.
fn camel_keys(v: Value) -> Value {
    camel_keys_at(v, &mut Vec::new())
}

fn camel_keys_at(v: Value, path: &mut Vec<String>) -> Value {
    let Value::Object(map) = v else { return v };
    let names = MAP_SETTINGS
        .iter()
        .any(|m| m.len() == path.len() && m.iter().zip(path.iter()).all(|(a, b)| a == b));
    Value::Object(
        map.into_iter()
            .map(|(k, v)| {
                let key = if names { k } else { to_camel(&k) };
                path.push(key.clone());
                let v = camel_keys_at(v, path);
                path.pop();
                (key, v)
            })
            .collect(),
    )
}

fn to_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for c in key.chars() {
        if c == '_' || c == '-' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn valid_settings_pass_through() {
        let (s, w) = from_editor(&json!({"systemPrompt": "be brief", "trace": {"live": false}}));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.system_prompt.as_deref(), Some("be brief"));
        assert!(!s.trace.live);
    }

    #[test]
    fn bad_value_warns_by_key_and_keeps_the_rest() {
        let (s, w) = from_editor(&json!({
            "systemPrompt": "ok",
            "trace": {"live": "yes"},
            "bogus": 1,
            "database": {"path": 42}
        }));
        assert_eq!(s.system_prompt.as_deref(), Some("ok"));
        assert!(s.trace.live, "default kept");
        assert_eq!(s.database.path, None);
        let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(
            keys,
            ["warden.bogus", "warden.database.path", "warden.trace.live"]
        );
        assert!(
            w.iter().any(|w| w.message.contains("invalid type")),
            "{w:?}"
        );
    }

    #[test]
    fn non_object_section_and_overlong_prompt() {
        let (s, w) = from_editor(&json!(5));
        assert_eq!(s, Settings::default());
        assert_eq!(w[0].key, "warden");
        let long = "x".repeat(MAX_PROMPT_CHARS + 1);
        let (s, w) = from_editor(&json!({ "systemPrompt": long }));
        assert_eq!(s.system_prompt, None);
        assert_eq!(w[0].key, "warden.systemPrompt");
        assert!(from_editor(&json!({ "systemPrompt": "  " })).1.len() == 1);
    }

    #[test]
    fn file_overrides_editor_and_accepts_snake_case() {
        let (overlay, w) = parse_file(
            "system_prompt = \"from file\"\n[trace]\nlive = false\n",
            ".warden.toml",
        );
        assert!(w.is_empty());
        let (s, w) = effective(
            &json!({"systemPrompt": "from editor", "trace": {"live": true}}),
            Some(&overlay),
        );
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.system_prompt.as_deref(), Some("from file"));
        assert!(!s.trace.live);
    }

    #[test]
    fn broken_file_is_one_warning_with_position() {
        let (overlay, w) = parse_file("a = 1\nsystem_prompt = \"unterminated\n", "/r/.warden.toml");
        assert_eq!(overlay, json!({}));
        assert_eq!(w.len(), 1);
        assert!(w[0].key.starts_with("/r/.warden.toml:2:"), "{:?}", w[0]);
    }

    #[test]
    fn merge_is_deep() {
        let m = merge(
            &json!({"a": {"b": 1, "c": 2}, "d": 1}),
            &json!({"a": {"b": 9}, "e": 3}),
        );
        assert_eq!(m, json!({"a": {"b": 9, "c": 2}, "d": 1, "e": 3}));
        assert_eq!(merge(&json!({"a": 1}), &Value::Null), json!({"a": 1}));
        assert_eq!(to_camel("max_tokens"), "maxTokens");
        assert_eq!(to_camel("base-url"), "baseUrl");
    }
}
#[cfg(test)]
mod llm_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn otlp_headers_are_a_map() {
        let (s, w) = from_editor(&json!({"trace": {"otlp": {
            "endpoint": "http://127.0.0.1:6006/v1/traces",
            "headers": {"authorization": "Bearer t", "x-team": "a"},
        }}}));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.trace.otlp.headers["authorization"], "Bearer t");
        let (_, w) = from_editor(&json!({"trace": {"otlp": {"headers": {"x": 1}}}}));
        assert_eq!(w[0].key, "warden.trace.otlp.headers.x");
    }

    #[test]
    fn the_user_files_trace_otlp_table_gives_the_same_settings() {
        let (raw, w) = parse_file(
            "[trace.otlp]\nendpoint = \"http://127.0.0.1:6006/v1/traces\"\ninclude_content = true\nheaders = { authorization = \"Bearer t\", x-team_name = \"a\" }\n",
            "config.toml",
        );
        assert!(w.is_empty(), "{w:?}");
        let (s, w) = from_editor(&raw);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            s.trace.otlp.endpoint.as_deref(),
            Some("http://127.0.0.1:6006/v1/traces")
        );
        assert!(s.trace.otlp.include_content);
        // Header names are sent as written, not camel-cased like keys.
        assert_eq!(s.trace.otlp.headers["x-team_name"], "a");
        assert_eq!(s.trace.otlp.headers["authorization"], "Bearer t");

        // So are provider and model names; the keys inside their entries are camelCased.
        let (raw, _) = parse_file(
            "[llm]\nprovider = \"my-local\"\n[llm.providers.my-local]\napi = \"openai\"\nbase_url = \"http://127.0.0.1:8080/v1\"\napi_key_env = \"MY_KEY\"\n",
            "config.toml",
        );
        let (s, w) = from_editor(&raw);
        assert!(w.is_empty(), "{w:?}");
        let p = &s.llm.providers["my-local"];
        assert_eq!(p.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(p.api_key_env.as_deref(), Some("MY_KEY"));
    }

    #[test]
    fn llm_providers_are_a_map_and_mux_rules_are_checked() {
        let (s, w) = from_editor(&json!({"llm": {
            "provider": "local",
            "model": "m",
            "providers": {"local": {"api": "openai", "baseUrl": "http://127.0.0.1:1/v1"}},
            "mux": [{"glob": "**/*.py", "provider": "nope"}, {"glob": "*.sh", "provider": "local", "model": "x"}],
            "prices": {"m": {"input": 1.0, "output": 2.0}},
            "denyList": ["ok", "(unclosed"]
        }}));
        assert_eq!(s.llm.provider, "local");
        assert_eq!(s.llm.providers["local"].base_url, "http://127.0.0.1:1/v1");
        assert!(s.llm.providers.contains_key("ollama"), "built-ins stay");
        assert_eq!(s.llm.mux.len(), 1);
        assert_eq!(s.llm.prices["m"].output, 2.0);
        assert_eq!(s.llm.deny_list, ["ok"]);
        let keys: Vec<&str> = w.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["warden.llm.mux", "warden.llm.denyList"], "{w:?}");
        let (s, w) =
            from_editor(&json!({"llm": {"providers": {"bad": {"api": "x", "baseUrl": "u"}}}}));
        assert!(!s.llm.providers.contains_key("bad"));
        assert_eq!(w[0].key, "warden.llm.providers.bad");
    }
}

#[cfg(test)]
mod run_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn runners_limits_and_scripts() {
        let (s, w) = from_editor(&json!({}));
        assert!(w.is_empty());
        assert_eq!(
            s.run.runner_for("scripts/1_a.py").unwrap().command,
            ["python3"]
        );
        assert_eq!(s.run.runner_for("x.mjs").unwrap().image, NODE_IMAGE);
        assert_eq!(s.run.runner_for("deploy.sh").unwrap().command, ["sh"]);
        assert!(s.run.runner_for("README.md").is_none());
        assert_eq!(s.run.scripts, ["scripts/**"]);
        let (s, w) = from_editor(&json!({"run": {
            "runners": [{"glob": "*.rb", "image": "ruby:local", "command": ["ruby"]}, {"glob": "[", "image": "x", "command": ["y"]}],
            "limits": {"timeoutSeconds": 5, "memoryMb": 512},
            "concurrency": 4
        }}));
        assert_eq!(s.run.runners.len(), 1);
        assert_eq!(s.run.runner_for("a/b.rb").unwrap().image, "ruby:local");
        assert_eq!(
            (s.run.limits.timeout_seconds, s.run.limits.memory_mb),
            (5, 512)
        );
        assert_eq!(s.run.limits.pids, 64, "the rest stay default");
        assert_eq!(s.run.concurrency, 4);
        assert_eq!(
            w.iter().map(|w| w.key.as_str()).collect::<Vec<_>>(),
            ["warden.run.runners"]
        );
        let (s, w) = from_editor(&json!({"run": {"limits": {"user": "0:0"}, "concurrency": 0}}));
        assert_eq!(s.run.limits.user, "1000:1000");
        assert_eq!(s.run.concurrency, 1);
        assert_eq!(w.len(), 2, "{w:?}");
    }

    #[test]
    fn input_mb_defaults_and_bounds() {
        assert_eq!(from_editor(&json!({})).0.run.limits.input_mb, 64);
        let (s, w) = from_editor(&json!({"run": {"limits": {"inputMb": 128}}}));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.run.limits.input_mb, 128);
        for bad in [0, MAX_INPUT_MB + 1] {
            let (s, w) = from_editor(&json!({"run": {"limits": {"inputMb": bad, "cpus": 2}}}));
            assert_eq!(s.run.limits, RunLimits::default(), "{bad}");
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(w[0].message.contains("inputMb"), "{w:?}");
        }
    }

    #[test]
    fn engine_urls_are_checked() {
        assert_eq!(from_editor(&json!({})).0.run.engine, None);
        for good in [
            "unix:///run/podman/podman.sock",
            "tcp://127.0.0.1:2376",
            "tcp://docker.internal:2376",
            "https://10.0.0.2:2376",
        ] {
            let (s, w) = from_editor(&json!({"run": {"engine": good}}));
            assert_eq!(s.run.engine.as_deref(), Some(good), "{w:?}");
            assert!(w.is_empty(), "{w:?}");
        }
        for bad in [
            "ssh://me@host",
            "/var/run/docker.sock",
            "unix://relative.sock",
            "tcp://h:notaport",
            "tcp://",
        ] {
            let (s, w) = from_editor(&json!({"run": {"engine": bad}}));
            assert_eq!(s.run.engine, None, "{bad}");
            assert_eq!(w.len(), 1, "{bad}: {w:?}");
            assert_eq!(w[0].key, "warden.run.engine");
        }
        let (s, w) = from_editor(&json!({"run": {"engine": ""}}));
        assert_eq!((s.run.engine, w.len()), (None, 0));
        let (s, w) = from_editor(&json!({"run": {"engine": 5}}));
        assert_eq!(
            (s.run.engine, w[0].key.as_str()),
            (None, "warden.run.engine")
        );
    }
}
