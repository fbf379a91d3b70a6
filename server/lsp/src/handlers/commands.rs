//! `workspace/executeCommand`: every `warden.*` command runs as a `command` span under
//! the registry lock (so workspace state changes are serialized), with arguments
//! validated into actionable InvalidParams errors before anything changes.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tower_lsp_server::jsonrpc::{Error, Result};
use warden_trace::{SpanKind, WorkspaceRef};

use super::{invalid, store_error};
use crate::lsp_ext::*;
use crate::registry::Registry;
use crate::server::Backend;

pub async fn execute(b: &Backend, command: String, arguments: Vec<Value>) -> Result<Option<Value>> {
    if !COMMANDS.contains(&command.as_str()) {
        return Err(invalid(format!(
            "unknown command {command:?}; warden supports: {}",
            COMMANDS.join(", ")
        )));
    }
    let args = match <[Value; 1]>::try_from(arguments) {
        Ok([Value::Object(map)]) => map,
        Ok([Value::Null]) => Map::new(),
        Err(v) if v.is_empty() => Map::new(),
        _ => {
            return Err(invalid(format!(
                "{command} takes one JSON object argument, e.g. {}",
                usage(&command)
            )));
        }
    };

    // Fix-until-green answers at once and goes on in the background.
    if matches!(
        command.as_str(),
        CMD_LLM_FIX_UNTIL_GREEN | CMD_LLM_FIX_ACCEPT | CMD_LLM_FIX_DISCARD
    ) {
        return super::fix::execute(b, &command, args).await.map(Some);
    }
    // LLM actions run outside the registry lock: they take seconds and hold nothing.
    if command.starts_with("warden.llm.") {
        return super::llm::execute(b, &command, args).await.map(Some);
    }
    // Runs return their id at once and go on in the background.
    if matches!(command.as_str(), CMD_RUN | CMD_RUN_CANCEL | CMD_RUN_ALL) {
        return super::runs::execute(b, &command, args).await.map(Some);
    }
    let mut reg = b.registry()?.lock().await;
    let target = span_workspace(&reg, &command, &args).await;
    let mut span = b
        .tracer
        .start(SpanKind::Command, command.as_str())
        .workspace(target)
        .input(summarize(&Value::Object(args.clone())))
        .begin();
    let span_id = span.id().to_owned();
    let result = run(b, &mut reg, &command, args, Some(&span_id)).await;
    match &result {
        Ok((value, _)) => {
            span.set_output(summarize(value));
            span.ok();
        }
        Err(e) => {
            span.fail(e.message.to_string());
        }
    }
    if let Ok((_, true)) = &result {
        super::workspace::notify_changed(b, &reg).await;
    }
    result.map(|(v, _)| Some(v))
}

/// The workspace a command span belongs to: the one it names (`name`, or `workspace` for
/// scans), else the active one.
/// `delete` is recorded under `default`, since the target's history goes with it.
async fn span_workspace(
    reg: &Registry,
    command: &str,
    args: &Map<String, Value>,
) -> Option<WorkspaceRef> {
    let name = args.get("name").or_else(|| args.get("workspace"));
    let named = match (command, name.and_then(Value::as_str)) {
        (CMD_WORKSPACE_DELETE, _) | (_, None) => None,
        (_, Some(name)) => reg.by_name(name).await.ok(),
    };
    match named {
        Some(row) => Some(row.as_ref()),
        None if command == CMD_WORKSPACE_DELETE => {
            reg.by_name("default").await.ok().map(|r| r.as_ref())
        }
        None => reg.active().await.ok().map(|r| r.as_ref()),
    }
}

pub(super) fn parse<T: DeserializeOwned>(command: &str, args: Map<String, Value>) -> Result<T> {
    serde_json::from_value(Value::Object(args))
        .map_err(|e| invalid(format!("{command}: {e}; expected {}", usage(command))))
}

fn usage(command: &str) -> &'static str {
    match command {
        CMD_WORKSPACE_LIST => "{}",
        CMD_WORKSPACE_RENAME => r#"{"name": "old", "newName": "new"}"#,
        CMD_SCAN_WORKSPACE => r#"{"workspace": "name"}"#,
        CMD_SECRETS_ADD_TO_BASELINE => {
            r#"{"uri": "file:///...", "rule": "aws-access-key-id", "fingerprint": "<sha256>"}"#
        }
        CMD_WORKSPACE_DELETE => r#"{"name": "ws", "confirm": true}"#,
        CMD_WORKSPACE_SET_SYSTEM_PROMPT => r#"{"name": "ws", "prompt": "You are..."}"#,
        CMD_LLM_EXPLAIN | CMD_LLM_TESTS => {
            r#"{"uri": "file:///...", "range": {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}}}"#
        }
        CMD_LLM_FIX => r#"{"uri": "file:///...", "diagnostic": {"range": ..., "message": "..."}}"#,
        CMD_LLM_REWRITE => {
            r#"{"uri": "file:///...", "range": {...}, "instruction": "read the key from the environment"}"#
        }
        CMD_LLM_DOCSTRING => r#"{"uri": "file:///...", "position": {"line": 4, "character": 0}}"#,
        CMD_LLM_CANCEL | CMD_LLM_FIX_ACCEPT | CMD_LLM_FIX_DISCARD => r#"{"requestId": "..."}"#,
        CMD_LLM_FIX_UNTIL_GREEN => r#"{"uri": "file:///...", "maxRounds": 3, "budgetUsd": 0.5}"#,
        CMD_RUN => r#"{"uri": "file:///...", "input": "data/in.csv", "args": []}"#,
        CMD_RUN_CANCEL => r#"{"runId": "..."}"#,
        CMD_RUN_ALL => r#"{"workspace": "name", "stopOnFailure": false}"#,
        CMD_CONFIG_TRUST => r#"{"root": "/path/to/repo", "sha256": "..."}"#,
        CMD_CONFIG_UNTRUST => r#"{"root": "/path/to/repo"}"#,
        CMD_PACKAGES_UPDATE_ADVISORIES => r#"{"ecosystems": ["PyPI"], "full": false}"#,
        _ => r#"{"name": "ws"}"#,
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| super::internal(e.to_string()))
}

fn check_name(name: &str) -> Result<()> {
    warden_workspace::check_name(name).map_err(invalid)
}

/// Runs one command; returns its result and whether the workspace list changed.
async fn run(
    b: &Backend,
    reg: &mut Registry,
    command: &str,
    args: Map<String, Value>,
    parent: Option<&str>,
) -> Result<(Value, bool)> {
    let editor = b.shared.editor().raw.clone();
    match command {
        CMD_CONFIG_TRUST | CMD_CONFIG_UNTRUST => {
            Ok((super::trust::execute(b, command, args).await?, false))
        }
        CMD_WORKSPACE_LIST => {
            let _: Empty = parse(command, args)?;
            let list = reg.list(&editor).await.map_err(store_error)?;
            Ok((to_json(&list)?, false))
        }
        CMD_WORKSPACE_ACTIVATE => {
            let a: NameArgs = parse(command, args)?;
            let row = reg.activate(&a.name).await.map_err(store_error)?;
            Ok((to_json(&reg.info(&row, &editor))?, true))
        }
        CMD_WORKSPACE_RENAME => {
            let a: RenameArgs = parse(command, args)?;
            check_name(&a.new_name)?;
            let (name, new_name) = (a.name, a.new_name);
            let row = reg
                .store()
                .call(move |c| warden_store::workspaces::rename(c, &name, &new_name))
                .await
                .map_err(store_error)?;
            Ok((to_json(&reg.info(&row, &editor))?, true))
        }
        CMD_WORKSPACE_ARCHIVE | CMD_WORKSPACE_RESTORE => {
            let a: NameArgs = parse(command, args)?;
            let row = reg
                .archive(&a.name, command == CMD_WORKSPACE_ARCHIVE)
                .await
                .map_err(store_error)?;
            Ok((to_json(&reg.info(&row, &editor))?, true))
        }
        CMD_WORKSPACE_DELETE => {
            let a: DeleteArgs = parse(command, args)?;
            if a.confirm != Some(true) {
                return Err(invalid(format!(
                    "deleting workspace {:?} removes its whole history (prompts, traces, runs); pass \"confirm\": true to proceed, or archive it instead",
                    a.name
                )));
            }
            let row = reg.delete(&a.name).await.map_err(store_error)?;
            Ok((json!({ "deleted": row.name }), true))
        }
        CMD_WORKSPACE_SET_SYSTEM_PROMPT => {
            let a: SetSystemPromptArgs = parse(command, args)?;
            if let Some(p) = &a.prompt {
                warden_config::check_prompt(p).map_err(|m| {
                    invalid(format!(
                        "{m}; pass \"prompt\": null to clear the workspace's prompt"
                    ))
                })?;
            }
            let (name, prompt) = (a.name, a.prompt);
            let row = reg
                .store()
                .call(move |c| {
                    warden_store::workspaces::set_system_prompt(c, &name, prompt.as_deref())
                })
                .await
                .map_err(store_error)?;
            Ok((to_json(&prompt_result(reg, &row, &editor))?, true))
        }
        CMD_WORKSPACE_SHOW_SYSTEM_PROMPT => {
            let a: NameArgs = parse(command, args)?;
            let row = reg.by_name(&a.name).await.map_err(store_error)?;
            Ok((to_json(&prompt_result(reg, &row, &editor))?, false))
        }
        CMD_SCAN_WORKSPACE => {
            let a: ScanWorkspaceArgs = parse(command, args)?;
            let row = match &a.workspace {
                Some(name) => reg.by_name(name).await.map_err(store_error)?,
                None => reg.active().await.map_err(store_error)?,
            };
            let root = row.root.clone().ok_or_else(|| {
                invalid(format!(
                    "workspace {:?} has no folder to scan; open a folder or name another workspace",
                    row.name
                ))
            })?;
            let token = super::analysis::start_workspace_scan(super::analysis::ScanJob {
                client: b.client.clone(),
                shared: b.shared.clone(),
                tracer: b.tracer.clone(),
                store: b.store.get().cloned(),
                progress: b.flags().work_done_progress,
                workspace: row.as_ref(),
                root: root.into(),
                parent_span: parent.map(str::to_owned),
            });
            Ok((
                json!({ "workspace": row.name, "progressToken": token }),
                false,
            ))
        }
        CMD_PACKAGES_UPDATE_ADVISORIES => {
            let a: UpdateAdvisoriesArgs = parse(command, args)?;
            let mut ecosystems = Vec::new();
            for name in &a.ecosystems {
                let eco = warden_analysis::packages::Ecosystem::ALL
                    .into_iter()
                    .find(|e| e.as_str().eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        invalid(format!(
                            "unknown ecosystem {name:?}; one of PyPI, npm, crates.io, Go"
                        ))
                    })?;
                ecosystems.push(eco);
            }
            let token = super::advisories::update_now(b, ecosystems, a.full).map_err(invalid)?;
            Ok((json!({ "progressToken": token }), false))
        }
        CMD_SECRETS_ADD_TO_BASELINE => {
            let a: super::code_actions::AddToBaselineArgs = parse(command, args)?;
            Ok((super::code_actions::add_to_baseline(b, a).await?, false))
        }
        other => Err(Error::invalid_params(format!("unhandled command {other}"))),
    }
}

fn prompt_result(
    reg: &Registry,
    row: &warden_store::WorkspaceRow,
    editor: &Value,
) -> SystemPromptResult {
    let (prompt, source) = reg.system_prompt(row, editor);
    SystemPromptResult {
        name: row.name.clone(),
        prompt,
        source,
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// A small JSON summary for span input/output: prompts and long strings are replaced
/// by their length, arrays by their first items and a count.
pub fn summarize(v: &Value) -> Value {
    const MAX_STRING: usize = 120;
    const MAX_ITEMS: usize = 20;
    match v {
        Value::String(s) if s.chars().count() > MAX_STRING => json!({ "chars": s.chars().count() }),
        Value::Array(items) if items.len() > MAX_ITEMS => json!({
            "count": items.len(),
            "first": items.iter().take(MAX_ITEMS).map(summarize).collect::<Vec<_>>(),
        }),
        Value::Array(items) => Value::Array(items.iter().map(summarize).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("prompt" | "systemPrompt", Value::String(s)) => {
                            json!({ "chars": s.chars().count() })
                        }
                        _ => summarize(v),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_hide_prompts_and_shorten_long_values() {
        let v = json!({
            "name": "a",
            "prompt": "secret-ish instructions",
            "body": "x".repeat(500),
            "list": (0..30).collect::<Vec<_>>(),
        });
        let s = summarize(&v);
        assert_eq!(s["prompt"], json!({ "chars": 23 }));
        assert_eq!(s["body"], json!({ "chars": 500 }));
        assert_eq!(s["list"]["count"], json!(30));
        assert_eq!(s["name"], json!("a"));
    }
}
