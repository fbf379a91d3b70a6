// Every `warden.*` server command as a VS Code command, plus the extension's own (the
// worktree-collision quick fix's diff, restart, logs, trace viewer, prompt editor,
// refresh, status report, settings shortcuts). Called with a JSON object (from a code
// action, a keybinding or another extension) a server command passes it through and
// returns the server's result; called from the palette, the status bar or the workspaces
// view it asks for what it needs (workspace name, new name, prompt text, confirmation).
// The LLM actions always run through the LLM runner (llm.ts), which adds a request id,
// streams explanations into their panel and reports edits; from the palette they act on
// the active editor (selection or cursor, the problem under the cursor, an instruction).

import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import { type Ctx, message, NotRunningError } from './ctx.ts';
import {
  CMD_LLM_CANCEL,
  CMD_LLM_DOCSTRING,
  CMD_LLM_EXPLAIN,
  CMD_LLM_FIX,
  CMD_LLM_FIX_ACCEPT,
  CMD_LLM_FIX_DISCARD,
  CMD_LLM_FIX_UNTIL_GREEN,
  CMD_LLM_REWRITE,
  CMD_LLM_TESTS,
  CMD_CONFIG_TRUST,
  CMD_CONFIG_UNTRUST,
  CMD_PACKAGES_UPDATE_ADVISORIES,
  CMD_RUN,
  CMD_RUN_ALL,
  CMD_RUN_CANCEL,
  CMD_SCAN_WORKSPACE,
  CMD_SECRETS_ADD_TO_BASELINE,
  CMD_WORKSPACE_ACTIVATE,
  CMD_WORKSPACE_ARCHIVE,
  CMD_WORKSPACE_DELETE,
  CMD_WORKSPACE_LIST,
  CMD_WORKSPACE_RENAME,
  CMD_WORKSPACE_RESTORE,
  CMD_WORKSPACE_SET_SYSTEM_PROMPT,
  CMD_WORKSPACE_SHOW_SYSTEM_PROMPT,
  CLIENT_CMD_WORKTREE_COMPARE,
  type DiagnosticData,
  type LlmCommand,
  REQ_WORKSPACES,
  type ServerCommand,
  SPAN_KINDS,
  type SpanKind,
  type ServerCommands,
  type WorkspaceInfo,
} from './lsp_ext.ts';
import { downloadAdvisoriesNow, followDownload } from './advisories.ts';
import { FixUi } from './fix.ts';
import { isLlmArgs, llmTarget, type LlmRunner, subjectOf } from './llm.ts';
import { openLlmSettings, openSetting } from './openSettings.ts';
import { openPrompt } from './promptFs.ts';
import { CMD_SEARCH, searchWorkspace } from './search.ts';
import { reportTrust, trustConfig, untrustConfig } from './trust.ts';
import type { RunUi } from './runCommands.ts';
import { CMD_RUN_WITH_INPUT } from './runLens.ts';
import type { RunManager } from './runs.ts';
import type { StatusDocs } from './status.ts';
import { CMD_RUNS_LOAD_MORE, CMD_RUNS_REFRESH, CMD_RUNS_REVEAL, CMD_RUNS_SHOW_LOG } from './runsView.ts';
import { CMD_SHOW_RUNNING } from './statusBar.ts';
import type { TraceFilter } from './traceModel.ts';
import type { TraceViewer } from './traceViewer.ts';
import { compareWithWorktree } from './worktrees.ts';
import {
  candidates,
  checkNewName,
  checkPrompt,
  describe,
  promptSourceLabel,
  type WorkspaceAction,
} from './workspaceModel.ts';

/** Extension-only commands (not sent to the server). */
export const CMD_RESTART = 'warden.restartServer';
export const CMD_SHOW_LOGS = 'warden.showLogs';
export const CMD_OPEN_TRACES = 'warden.openTraceViewer';
/** The Workspaces view's title button: every span, whatever row was selected last. */
export const CMD_OPEN_TRACES_ALL = 'warden.openTraceViewerAll';
export const CMD_OPEN_SERVER_SETTINGS = 'warden.openServerSettings';
export const CMD_OPEN_LLM_SETTINGS = 'warden.openLlmSettings';
export const CMD_SHOW_STATUS = 'warden.showStatus';
export const CMD_EDIT_PROMPT = 'warden.workspace.editSystemPrompt';
export const CMD_REFRESH_WORKSPACES = 'warden.workspaces.refresh';
export const CMD_RUNS_RERUN = 'warden.runs.rerun';
export const CMD_RUNS_SEARCH = 'warden.runs.search';
export const CMD_RUNS_STATS = 'warden.runs.stats';
export const CMD_RUNS_SCRIPTS = 'warden.runs.scripts';

/** What the view passes to item commands: anything with a workspace. */
interface HasWorkspace {
  workspace: WorkspaceInfo;
}

type Arg = Record<string, unknown> | HasWorkspace | vscode.Uri | vscode.TreeItem | string | undefined;

function isTreeArg(arg: unknown): arg is HasWorkspace {
  return typeof arg === 'object' && arg !== null && 'workspace' in arg && typeof (arg as HasWorkspace).workspace?.name === 'string';
}

/** Arguments for the server as given by a caller, or undefined when the user must be asked. */
function passThrough(arg: Arg): Record<string, unknown> | undefined {
  // A file (editor title button, CodeLens, explorer) or a view row asks interactively.
  if (arg instanceof vscode.Uri || arg instanceof vscode.TreeItem) {
    return undefined;
  }
  if (typeof arg === 'object' && arg !== null && !isTreeArg(arg)) {
    return arg as Record<string, unknown>;
  }
  return undefined;
}

function nameFrom(arg: Arg): string | undefined {
  if (typeof arg === 'string') {
    return arg;
  }
  if (isTreeArg(arg)) {
    return arg.workspace.name;
  }
  return undefined;
}

export function registerCommands(
  ctx: Ctx,
  traces: TraceViewer,
  runner: LlmRunner,
  runs: RunManager,
  runUi: RunUi,
  status: StatusDocs,
  fix: FixUi,
): vscode.Disposable[] {
  const reg = (id: string, run: (arg: Arg) => Promise<unknown> | unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (arg: Arg) => {
      try {
        return await run(arg);
      } catch (err) {
        reportError(ctx, err);
        return undefined;
      }
    });

  const server = <C extends ServerCommand>(
    id: C,
    interactive: (arg: Arg) => Promise<unknown>,
    /** Feedback shown after a pass-through call too (a code action's command). */
    report?: (result: ServerCommands[C]['result']) => void,
    /** Sends pass-through arguments itself (runs go through the run manager for their terminal). */
    direct?: (args: ServerCommands[C]['args']) => Promise<ServerCommands[C]['result']>,
  ): vscode.Disposable =>
    reg(id, async (arg) => {
      const args = passThrough(arg);
      if (!args) {
        return interactive(arg);
      }
      // The caller knows what it wants: the server's answer is the command's result.
      const typed = args as ServerCommands[C]['args'];
      const result = direct ? await direct(typed) : await ctx.command(id, typed);
      report?.(result);
      return result;
    });

  const pick = (action: WorkspaceAction, arg: Arg, placeHolder: string) => pickWorkspace(ctx, action, nameFrom(arg), placeHolder);

  /** An LLM action: arguments passed whole (a code action's), else from the active editor. */
  const llm = (id: LlmCommand): vscode.Disposable =>
    reg(id, async (arg) => {
      if (isLlmArgs(arg)) {
        return runner.run(id, arg, subjectOf(arg));
      }
      const target = await llmTarget(ctx, id);
      return target ? runner.run(id, target.args, target.subject) : undefined;
    });

  return [
    server(CMD_WORKSPACE_LIST, async () => {
      const ws = await pick('prompt', undefined, 'warden workspaces: pick one to act on it');
      if (ws) {
        await workspaceActions(ws);
      }
    }),

    server(CMD_WORKSPACE_ACTIVATE, async (arg) => {
      const ws = await pick('activate', arg, 'Activate a workspace (files outside every folder belong to it)');
      if (!ws) {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_ACTIVATE, { name: ws.name });
      vscode.window.setStatusBarMessage(`warden: ${result.name} is the active workspace`, 4000);
      return result;
    }),

    server(CMD_WORKSPACE_RENAME, async (arg) => {
      const ws = await pick('rename', arg, 'Rename a workspace');
      if (!ws) {
        return;
      }
      const all = await ctx.request(REQ_WORKSPACES, {});
      const newName = await vscode.window.showInputBox({
        title: `Rename workspace ${ws.name}`,
        prompt: 'New name (at most 64 characters, no "/" or "\\")',
        value: ws.name,
        validateInput: (v) => (v === ws.name ? 'Enter a different name.' : checkNewName(v, ws.name, all)),
      });
      if (newName === undefined) {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_RENAME, { name: ws.name, newName });
      vscode.window.setStatusBarMessage(`warden: renamed ${ws.name} to ${result.name}`, 4000);
      return result;
    }),

    server(CMD_WORKSPACE_ARCHIVE, async (arg) => {
      const ws = await pick('archive', arg, 'Archive a workspace (its history stays; restore it any time)');
      if (!ws) {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_ARCHIVE, { name: ws.name });
      vscode.window.setStatusBarMessage(`warden: archived ${ws.name}`, 4000);
      return result;
    }),

    server(CMD_WORKSPACE_RESTORE, async (arg) => {
      const ws = await pick('restore', arg, 'Restore an archived workspace');
      if (!ws) {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_RESTORE, { name: ws.name });
      vscode.window.setStatusBarMessage(`warden: restored ${ws.name}`, 4000);
      return result;
    }),

    server(CMD_WORKSPACE_DELETE, async (arg) => {
      const ws = await pick('delete', arg, 'Delete a workspace and its whole history (not possible while its folder is open)');
      if (!ws) {
        return;
      }
      const answer = await vscode.window.showWarningMessage(
        `Delete workspace ${ws.name} and its whole history (traces, findings)? This cannot be undone.`,
        { modal: true },
        'Delete',
      );
      if (answer !== 'Delete') {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_DELETE, { name: ws.name, confirm: true });
      void vscode.window.showInformationMessage(`warden: deleted workspace ${result.deleted}`);
      return result;
    }),

    server(CMD_WORKSPACE_SET_SYSTEM_PROMPT, async (arg) => {
      const ws = await pick('prompt', arg, 'Set the system prompt of a workspace');
      if (!ws) {
        return;
      }
      const current = await ctx.command(CMD_WORKSPACE_SHOW_SYSTEM_PROMPT, { name: ws.name });
      const text = await vscode.window.showInputBox({
        title: `System prompt of ${ws.name}`,
        prompt: `Now ${promptSourceLabel(current.source)}. Leave empty to clear the prompt set by command. For long prompts use "Warden: Edit Workspace System Prompt".`,
        value: current.prompt ?? '',
        validateInput: (v) => (v.trim().length === 0 ? undefined : checkPrompt(v)),
      });
      if (text === undefined) {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_SET_SYSTEM_PROMPT, {
        name: ws.name,
        prompt: text.trim().length === 0 ? null : text,
      });
      vscode.window.setStatusBarMessage(
        `warden: ${ws.name}'s system prompt is now ${promptSourceLabel(result.source)}`,
        4000,
      );
      return result;
    }),

    server(CMD_WORKSPACE_SHOW_SYSTEM_PROMPT, async (arg) => {
      const ws = await pick('prompt', arg, 'Show the system prompt of a workspace');
      if (!ws) {
        return;
      }
      const result = await ctx.command(CMD_WORKSPACE_SHOW_SYSTEM_PROMPT, { name: ws.name });
      await openPrompt(ws.name);
      vscode.window.setStatusBarMessage(
        `warden: ${ws.name}'s system prompt is ${promptSourceLabel(result.source)}; save the tab to set it by command`,
        6000,
      );
      return result;
    }),

    server(CMD_SCAN_WORKSPACE, async (arg) => {
      const ws = await pick('scan', arg, 'Scan a workspace for secrets, risky shell, syntax errors and packages');
      if (!ws) {
        return;
      }
      return scan(ctx, ws.name);
    }),

    server(
      CMD_SECRETS_ADD_TO_BASELINE,
      async () => {
        const target = await pickSecretAtCursor();
        if (!target) {
          return;
        }
        const result = await ctx.command(CMD_SECRETS_ADD_TO_BASELINE, target);
        reportBaseline(result);
        return result;
      },
      reportBaseline,
    ),

    llm(CMD_LLM_EXPLAIN),
    llm(CMD_LLM_FIX),
    llm(CMD_LLM_REWRITE),
    llm(CMD_LLM_DOCSTRING),
    llm(CMD_LLM_TESTS),

    // Fix until it runs: the quick fix's {uri} (or a caller's arguments) pass through
    // fix.ts, which follows the loop and shows its diff; from the palette, the active
    // editor's file. Accept/Discard answer the diff in front (title bar buttons pass
    // its side's URI), else the newest pending fix.
    server(
      CMD_LLM_FIX_UNTIL_GREEN,
      (arg) => (arg instanceof vscode.Uri && arg.scheme === 'file' ? fix.start({ uri: arg.toString() }) : fix.startFromEditor()),
      undefined,
      (a) => fix.start(a),
    ),
    server(CMD_LLM_FIX_ACCEPT, (arg) => fix.accept(FixUi.requestOf(arg)), undefined, async (a) =>
      (await fix.accept(a.requestId)) ?? { applied: false, message: 'no such fix is waiting' },
    ),
    server(CMD_LLM_FIX_DISCARD, (arg) => fix.discard(FixUi.requestOf(arg)), undefined, async (a) =>
      (await fix.discard(a.requestId)) ?? { discarded: false },
    ),

    server(
      CMD_LLM_CANCEL,
      async () => {
        const running = runner.running;
        const fixes = fix.running;
        if (running.length === 0 && fixes.length > 0) {
          // Fix-until-it-runs loops of this window.
          const answers = await Promise.all(fixes.map((l) => fix.cancel(l.requestId)));
          return { cancelled: answers.some(Boolean) };
        }
        if (running.length === 0) {
          void vscode.window.showInformationMessage('warden: no LLM request of this window is running.');
          return;
        }
        let chosen = running;
        if (running.length > 1) {
          const items = [
            { label: '$(stop-circle) All of them', description: `${running.length} requests`, ids: running },
            ...running.map((r) => ({
              label: r.action,
              description: r.subject,
              detail: r.status(),
              ids: [r],
            })),
          ];
          const picked = await vscode.window.showQuickPick(items, { placeHolder: 'Cancel which LLM request?' });
          if (!picked) {
            return;
          }
          chosen = picked.ids;
        }
        const answers = await Promise.all(chosen.map((r) => runner.cancel(r.requestId)));
        return { cancelled: answers.some(Boolean) };
      },
    ),

    server(
      CMD_RUN,
      (arg) => runUi.run(arg as Parameters<RunUi['run']>[0]),
      undefined,
      (a) => runs.run(vscode.Uri.parse(a.uri), { input: a.input, args: a.args, runId: a.runId }),
    ),
    server(CMD_RUN_ALL, (arg) => runUi.runAll(arg as Parameters<RunUi['runAll']>[0]), undefined, (a) =>
      runs.runAll(a.workspace, a.stopOnFailure ?? false),
    ),
    server(CMD_RUN_CANCEL, (arg) => runUi.cancel(arg as Parameters<RunUi['cancel']>[0])),
    // From a code action (*Download PyPI advisories now*) the ecosystems come along;
    // from the palette the user picks them. Either way the download shows as a
    // notification with Cancel, and the server says how it went.
    server(
      CMD_PACKAGES_UPDATE_ADVISORIES,
      () => downloadAdvisoriesNow(ctx, () => status.advisoryRows()),
      (started) => followDownload(ctx, started),
    ),
    server(CMD_CONFIG_TRUST, () => trustConfig(ctx), reportTrust),
    server(CMD_CONFIG_UNTRUST, () => untrustConfig(ctx), reportTrust),
    // Client-side: the worktree-collision quick fix's diff, never sent to the server.
    reg(CLIENT_CMD_WORKTREE_COMPARE, (arg) => compareWithWorktree(arg)),
    reg(CMD_RUN_WITH_INPUT, (arg) => runUi.runWithInput(arg as Parameters<RunUi['runWithInput']>[0])),
    reg(CMD_RUNS_RERUN, (arg) => runUi.rerun(arg as Parameters<RunUi['rerun']>[0])),
    reg(CMD_RUNS_SHOW_LOG, (arg) => runUi.showLog(arg as Parameters<RunUi['showLog']>[0])),
    reg(CMD_RUNS_SEARCH, () => runUi.search()),
    reg(CMD_RUNS_STATS, (arg) => runUi.stats(nameFrom(arg))),
    reg(CMD_RUNS_SCRIPTS, (arg) => runUi.scripts(nameFrom(arg))),
    reg(CMD_RUNS_REFRESH, () => runUi.refresh()),
    reg(CMD_RUNS_LOAD_MORE, () => runUi.loadMore()),
    reg(CMD_RUNS_REVEAL, (arg) => runUi.reveal(arg)),
    reg(CMD_SHOW_RUNNING, () => runUi.showRunning()),

    reg(CMD_SEARCH, () => searchWorkspace(ctx)),
    reg(CMD_RESTART, () => ctx.restart()),
    reg(CMD_SHOW_LOGS, () => ctx.log.show(true)),
    reg(CMD_OPEN_TRACES, (arg) => {
      // A workspace name, a view item, or a filter ({workspace?, kind?}).
      const name = nameFrom(arg);
      const filter = isTraceFilter(arg) ? arg : undefined;
      traces.show(filter ?? (name ? { workspace: name } : undefined));
    }),
    // Whatever VS Code passes along (a title button may get the view's selection), this
    // one shows every span.
    reg(CMD_OPEN_TRACES_ALL, () => traces.show({})),
    reg(CMD_OPEN_SERVER_SETTINGS, () => openSetting('warden.server.path')),
    reg(CMD_SHOW_STATUS, () => status.show()),
    reg(CMD_OPEN_LLM_SETTINGS, () => openLlmSettings()),
    reg(CMD_EDIT_PROMPT, async (arg) => {
      const ws = await pick('prompt', arg, 'Edit the system prompt of a workspace in an editor tab');
      if (ws) {
        await openPrompt(ws.name);
      }
    }),
    reg(CMD_REFRESH_WORKSPACES, async () => {
      await ctx.refreshWorkspaces();
    }),
  ];

  async function workspaceActions(ws: WorkspaceInfo): Promise<void> {
    type Item = vscode.QuickPickItem & { run: () => Thenable<unknown> };
    const run = (id: string) => () => vscode.commands.executeCommand(id, ws.name);
    const items: Item[] = [];
    if (!ws.archived && !ws.active) {
      items.push({ label: '$(check) Activate', run: run(CMD_WORKSPACE_ACTIVATE) });
    }
    items.push({ label: '$(edit) Edit system prompt', description: promptSourceLabel(ws.systemPromptSource), run: run(CMD_EDIT_PROMPT) });
    if (ws.root && !ws.archived) {
      items.push({ label: '$(search) Scan', run: run(CMD_SCAN_WORKSPACE) });
    }
    items.push({ label: '$(pulse) Show traces', run: () => vscode.commands.executeCommand(CMD_OPEN_TRACES, ws.name) });
    if (ws.name !== 'default') {
      items.push({ label: '$(tag) Rename', run: run(CMD_WORKSPACE_RENAME) });
      items.push(
        ws.archived
          ? { label: '$(archive) Restore', run: run(CMD_WORKSPACE_RESTORE) }
          : { label: '$(archive) Archive', run: run(CMD_WORKSPACE_ARCHIVE) },
      );
      if (!ws.open) {
        items.push({ label: '$(trash) Delete', run: run(CMD_WORKSPACE_DELETE) });
      }
    }
    const choice = await vscode.window.showQuickPick(items, { title: `Workspace ${ws.name}`, placeHolder: describe(ws) });
    await choice?.run();
  }
}

function isTraceFilter(arg: unknown): arg is TraceFilter {
  if (typeof arg !== 'object' || arg === null || isTreeArg(arg)) {
    return false;
  }
  const { workspace, kind } = arg as { workspace?: unknown; kind?: unknown };
  return (
    (workspace === undefined || typeof workspace === 'string') &&
    (kind === undefined || SPAN_KINDS.includes(kind as SpanKind)) &&
    (workspace !== undefined || kind !== undefined)
  );
}

/** A workspace for `action`: the named one, the only candidate, or the user's pick. */
async function pickWorkspace(
  ctx: Ctx,
  action: WorkspaceAction,
  name: string | undefined,
  placeHolder: string,
): Promise<WorkspaceInfo | undefined> {
  const all = await ctx.request(REQ_WORKSPACES, {});
  if (name !== undefined) {
    const ws = all.find((w) => w.name === name);
    if (!ws) {
      throw new Error(`There is no workspace named ${name}.`);
    }
    return ws;
  }
  const list = candidates(action, all);
  if (list.length === 0) {
    void vscode.window.showInformationMessage(`warden: no workspace fits (${placeHolder.toLowerCase()}).`);
    return undefined;
  }
  // Workspaces open in this window first: they are what the user is looking at.
  list.sort((a, b) => Number(b.open) - Number(a.open));
  if (list.length === 1 && action === 'scan') {
    return list[0];
  }
  const items = list.map((w) => ({
    label: `${w.active ? '$(check) ' : ''}${w.name}`,
    description: describe(w),
    detail: w.root ?? 'files outside every folder',
    ws: w,
  }));
  const picked = await vscode.window.showQuickPick(items, { placeHolder, matchOnDescription: true, matchOnDetail: true });
  return picked?.ws;
}

async function scan(ctx: Ctx, name: string): Promise<unknown> {
  const started = await ctx.command(CMD_SCAN_WORKSPACE, { workspace: name });
  const tracker = ctx.progressTracker;
  if (!tracker) {
    return started;
  }
  void tracker.follow(started.progressToken, `warden: scanning ${started.workspace}`).then(async (end) => {
    if (end.cancelled) {
      void vscode.window.showWarningMessage(`warden: the scan of ${started.workspace} was cancelled.`);
      return;
    }
    const choice = await vscode.window.showInformationMessage(
      `warden: scanned ${started.workspace}${end.message ? `: ${end.message}` : ''}`,
      'Show Problems',
    );
    if (choice === 'Show Problems') {
      await vscode.commands.executeCommand('workbench.actions.view.problems');
    }
  });
  return started;
}

/** A warden secret diagnostic at (or, failing that, in) the active editor. */
async function pickSecretAtCursor(): Promise<{ uri: string; rule: string; fingerprint: string } | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('warden: open a file with a secret finding first.');
    return undefined;
  }
  const secrets = vscode.languages.getDiagnostics(editor.document.uri).filter((d) => {
    const data = (d as vscode.Diagnostic & { data?: DiagnosticData }).data;
    return d.source === 'warden' && data?.kind === 'secret' && data.fingerprint;
  });
  if (secrets.length === 0) {
    void vscode.window.showInformationMessage('warden: this file has no secret findings.');
    return undefined;
  }
  const cursor = editor.selection.active;
  const here = secrets.filter((d) => d.range.contains(cursor));
  let chosen = here.length === 1 ? here[0] : secrets.length === 1 ? secrets[0] : undefined;
  if (!chosen) {
    const picked = await vscode.window.showQuickPick(
      (here.length ? here : secrets).map((d) => ({
        label: `${String(typeof d.code === 'object' ? d.code.value : d.code)} (line ${d.range.start.line + 1})`,
        detail: d.message,
        d,
      })),
      { placeHolder: 'Add which secret finding to the baseline?' },
    );
    chosen = picked?.d;
  }
  if (!chosen) {
    return undefined;
  }
  const data = (chosen as vscode.Diagnostic & { data?: DiagnosticData }).data as DiagnosticData;
  const code = typeof chosen.code === 'object' ? chosen.code.value : chosen.code;
  return { uri: editor.document.uri.toString(), rule: String(code), fingerprint: data.fingerprint as string };
}

function reportBaseline(result: { baseline: string; added: boolean; rule: string }): void {
  vscode.window.setStatusBarMessage(
    result.added
      ? `warden: added ${result.rule} to ${result.baseline}`
      : `warden: ${result.rule} was already in ${result.baseline}`,
    6000,
  );
}

function reportError(ctx: Ctx, err: unknown): void {
  if (err instanceof NotRunningError) {
    void vscode.window.showErrorMessage(err.message, 'Show logs', 'Restart').then((c) => {
      if (c === 'Show logs') {
        ctx.log.show(true);
      } else if (c === 'Restart') {
        void ctx.restart();
      }
    });
    return;
  }
  const text = err instanceof ResponseError ? err.message : message(err);
  ctx.log.warn(`command failed: ${text}`);
  void vscode.window.showErrorMessage(`warden: ${text}`);
}
