// What the run commands ask when they are run from the palette, an editor title button,
// a CodeLens, the Runs view or the status bar: the script (the active editor, or the
// file the button or lens belongs to), an input file (a quick pick of the workspace's
// files, or Browse…) and arguments, the workspace and whether to stop on failure for
// *Run all*, which run to cancel, a search pattern; then they hand over to the run
// manager (runs.ts), the log and statistics documents (runDocs.ts) and the Runs view.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { REQ_RUN_SEARCH, REQ_SCRIPTS, REQ_WORKSPACE_FOR, type WorkspaceInfo } from './lsp_ext.ts';
import type { RunDocs } from './runDocs.ts';
import { baseName, formatDuration, hitItem, scriptItem, splitArgs, statusLabel } from './runModel.ts';
import { inputLabel, type RunManager, type TrackedRun } from './runs.ts';
import { RunItem, RunningItem, type RunsView } from './runsView.ts';

/** A run command's argument: a file (editor title, CodeLens, explorer) or a Runs view row. */
export type RunArg = vscode.Uri | RunItem | RunningItem | string | Record<string, unknown> | undefined;

export class RunUi {
  private readonly ctx: Ctx;
  private readonly manager: RunManager;
  private readonly view: RunsView;
  private readonly docs: RunDocs;

  constructor(ctx: Ctx, manager: RunManager, view: RunsView, docs: RunDocs) {
    this.ctx = ctx;
    this.manager = manager;
    this.view = view;
    this.docs = docs;
  }

  /** `warden.run` without arguments for the server: the file given, else the active editor's. */
  async run(arg: RunArg): Promise<unknown> {
    if (arg instanceof RunItem || arg instanceof RunningItem) {
      return this.rerun(arg);
    }
    const uri = scriptUri(arg);
    return uri ? this.manager.run(uri) : undefined;
  }

  /** *Run with input…*: picks an input file and arguments, then runs. */
  async runWithInput(arg: RunArg): Promise<unknown> {
    const uri = scriptUri(arg);
    if (!uri) {
      return undefined;
    }
    const input = await pickInput(uri);
    if (!input) {
      return undefined;
    }
    const typed = await vscode.window.showInputBox({
      title: `Run ${baseName(uri.fsPath)} with ${vscode.workspace.asRelativePath(input, false)}`,
      prompt: 'Arguments after the input file (optional; quotes group, nothing is expanded). Enter to run.',
      placeHolder: 'no arguments',
    });
    if (typed === undefined) {
      return undefined;
    }
    return this.manager.run(uri, { input: input.toString(), args: splitArgs(typed) });
  }

  /** `warden.runAll` from the palette, a button or a lens. */
  async runAll(arg: RunArg): Promise<unknown> {
    if (arg instanceof vscode.Uri) {
      // A button or lens on a script: its workspace, without more questions.
      const ws = await this.ctx.request(REQ_WORKSPACE_FOR, { uri: arg.toString() });
      return this.manager.runAll(ws.name, false);
    }
    const ws = await pickRunWorkspace(this.ctx, typeof arg === 'string' ? arg : undefined);
    if (!ws) {
      return undefined;
    }
    const mode = await vscode.window.showQuickPick(
      [
        { label: '$(run-all) Run all', detail: 'Every group runs, whatever fails.', stop: false },
        { label: '$(debug-stop) Run all, stop on failure', detail: 'A group with a failing script is the last.', stop: true },
      ],
      { title: `Run the scripts of ${ws.name}`, placeHolder: 'Groups run in order; the scripts of a group run side by side.' },
    );
    if (!mode) {
      return undefined;
    }
    return this.manager.runAll(ws.name, mode.stop);
  }

  /** `warden.run.cancel` without arguments: a Runs view row, else a pick of the runs going. */
  async cancel(arg: RunArg): Promise<unknown> {
    if (arg instanceof RunItem || arg instanceof RunningItem) {
      return { cancelled: await this.manager.cancel(arg.runId) };
    }
    const running = this.manager.running;
    if (running.length === 0) {
      void vscode.window.showInformationMessage('warden: no run of this window is going.');
      return undefined;
    }
    const now = Date.now();
    const items = [
      ...(running.length > 1
        ? [{ label: '$(stop-circle) All of them', description: `${running.length} runs`, runs: running }]
        : []),
      ...running.map((r) => ({ label: baseName(r.path), description: runningDescription(r, now), detail: `run ${r.runId}`, runs: [r] })),
    ];
    const picked = await vscode.window.showQuickPick(items, { placeHolder: 'Cancel which run?', matchOnDetail: true });
    if (!picked) {
      return undefined;
    }
    const answers = await Promise.all(picked.runs.map((r) => this.manager.cancel(r.runId)));
    return { cancelled: answers.some(Boolean) };
  }

  /** *Re-run*: the same script with the same input and arguments, when they are known. */
  async rerun(arg: RunArg): Promise<unknown> {
    let uri: string | undefined;
    let runId: string | undefined;
    let storedInput: string | null = null;
    if (arg instanceof RunItem) {
      uri = arg.run.uri ?? undefined;
      runId = arg.run.runId;
      storedInput = arg.run.input;
    } else if (arg instanceof RunningItem) {
      uri = arg.tracked.uri;
      runId = arg.tracked.runId;
    }
    if (!uri || !runId) {
      void vscode.window.showInformationMessage('warden: pick a run in the Runs view to run it again.');
      return undefined;
    }
    const script = vscode.Uri.parse(uri);
    const known = this.manager.get(runId);
    const remembered = known ? { input: known.input, args: known.args } : this.manager.remembered(runId);
    if (remembered) {
      return this.manager.run(script, { input: remembered.input, args: remembered.args });
    }
    if (storedInput) {
      // Only the input's name is stored: ask for the file again.
      void vscode.window.showInformationMessage(`warden: that run read the input ${storedInput}; pick it again.`);
      return this.runWithInput(script);
    }
    return this.manager.run(script);
  }

  /** *Show log*: the stored output of a run, read-only. */
  async showLog(arg: RunArg): Promise<void> {
    if (arg instanceof RunItem) {
      await this.docs.showLog(arg.run.runId, arg.run.path);
    } else if (arg instanceof RunningItem) {
      this.manager.reveal(arg.runId);
    } else if (typeof arg === 'string') {
      await this.docs.showLog(arg, this.manager.get(arg)?.path ?? arg);
    }
  }

  /** Search the stored output of a workspace's runs; a hit opens its log at the line. */
  async search(): Promise<void> {
    const workspace = await this.currentWorkspace();
    const pattern = await vscode.window.showInputBox({
      title: `Search the output of ${workspace ?? 'the active workspace'}'s runs`,
      prompt: 'A regular expression, matched line by line against stdout and stderr',
      placeHolder: 'e.g. Traceback|Error',
    });
    if (!pattern) {
      return;
    }
    const { hits } = await this.ctx.request(REQ_RUN_SEARCH, { pattern, ...(workspace ? { workspace } : {}) });
    if (hits.length === 0) {
      void vscode.window.showInformationMessage(`warden: no run output matches ${pattern}.`);
      return;
    }
    const now = Date.now();
    const picked = await vscode.window.showQuickPick(
      hits.map((h) => ({ ...hitItem(h, now), hit: h })),
      { title: `${hits.length} lines match ${pattern}`, matchOnDescription: true, matchOnDetail: true },
    );
    if (picked) {
      await this.docs.showLog(picked.hit.runId, picked.hit.path, { stream: picked.hit.stream, line: picked.hit.line });
    }
  }

  /**
   * The script catalog (`warden/scripts`) in run-all order: pick one to open it; its
   * buttons run it, and the title button runs them all.
   */
  async scripts(arg: RunArg): Promise<void> {
    const workspace = typeof arg === 'string' ? arg : await this.currentWorkspace();
    const res = await this.ctx.request(REQ_SCRIPTS, workspace ? { workspace } : {});
    if (res.scripts.length === 0) {
      void vscode.window.showInformationMessage(`warden: ${res.workspace} has no scripts (setting warden.run.scripts).`);
      return;
    }
    const run: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('play'), tooltip: 'Run this script' };
    const runAll: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('run-all'), tooltip: 'Run all' };
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { uri: vscode.Uri }>();
    const now = Date.now();
    qp.title = `Scripts of ${res.workspace}, in run-all order`;
    qp.placeholder = 'Pick a script to open it; ▶ runs it';
    qp.matchOnDescription = true;
    qp.matchOnDetail = true;
    qp.buttons = [runAll];
    qp.items = res.scripts.map((s) => ({ ...scriptItem(s, now), buttons: [run], uri: vscode.Uri.parse(s.uri) }));
    qp.onDidTriggerItemButton((e) => {
      qp.hide();
      void this.manager.run(e.item.uri);
    });
    qp.onDidTriggerButton(() => {
      qp.hide();
      void this.runAll(res.workspace);
    });
    qp.onDidAccept(() => {
      const item = qp.selectedItems[0];
      qp.hide();
      if (item) {
        void vscode.window.showTextDocument(item.uri);
      }
    });
    qp.onDidHide(() => qp.dispose());
    qp.show();
  }

  /** Run statistics of a workspace as a Markdown preview. */
  async stats(arg: RunArg): Promise<void> {
    const workspace = typeof arg === 'string' ? arg : (await this.currentWorkspace()) ?? this.ctx.activeWorkspace;
    await this.docs.showStats(workspace);
  }

  /** The status bar's runs item: the runs going; pick one to see its terminal. */
  async showRunning(): Promise<void> {
    const running = this.manager.running;
    if (running.length === 0) {
      await vscode.commands.executeCommand('warden.runs.focus');
      return;
    }
    const stop: vscode.QuickInputButton = { iconPath: new vscode.ThemeIcon('debug-stop'), tooltip: 'Cancel this run' };
    const qp = vscode.window.createQuickPick<vscode.QuickPickItem & { run: TrackedRun }>();
    const now = Date.now();
    qp.title = `${running.length} run${running.length === 1 ? '' : 's'} going`;
    qp.placeholder = 'Pick a run to show its terminal';
    qp.items = running.map((r) => ({ label: baseName(r.path), description: runningDescription(r, now), buttons: [stop], run: r }));
    qp.onDidTriggerItemButton((e) => {
      void this.manager.cancel(e.item.run.runId);
      qp.hide();
    });
    qp.onDidAccept(() => {
      const item = qp.selectedItems[0];
      qp.hide();
      if (item && !this.manager.reveal(item.run.runId)) {
        void vscode.window.showInformationMessage(`warden: the terminal of ${item.label} was closed.`);
      }
    });
    qp.onDidHide(() => qp.dispose());
    qp.show();
  }

  async refresh(): Promise<void> {
    await this.view.refresh();
  }

  async loadMore(): Promise<void> {
    await this.view.loadMore();
  }

  reveal(runId: unknown): void {
    if (typeof runId === 'string' && !this.manager.reveal(runId)) {
      void vscode.window.showInformationMessage('warden: the terminal of that run was closed.');
    }
  }

  /** The workspace of the active editor's file, if any. */
  private async currentWorkspace(): Promise<string | undefined> {
    const uri = vscode.window.activeTextEditor?.document.uri;
    if (uri?.scheme === 'file') {
      try {
        return (await this.ctx.request(REQ_WORKSPACE_FOR, { uri: uri.toString() })).name;
      } catch {
        return undefined;
      }
    }
    return undefined;
  }
}

function runningDescription(r: TrackedRun, now: number): string {
  return `${statusLabel(r.status)} · ${formatDuration(now - r.startedAt)}${r.input ? ` · input ${inputLabel(r.input)}` : ''}`;
}

/** The script a run command is about: the file given, else the active editor's. */
function scriptUri(arg: RunArg): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) {
    return arg;
  }
  if (typeof arg === 'string') {
    return vscode.Uri.parse(arg);
  }
  const doc = vscode.window.activeTextEditor?.document;
  if (!doc || doc.uri.scheme !== 'file') {
    void vscode.window.showInformationMessage('warden: open the script to run first (a saved file; unsaved edits run too).');
    return undefined;
  }
  return doc.uri;
}

/** An input file: one of the workspace folder's files, or one from the file dialog. */
async function pickInput(script: vscode.Uri): Promise<vscode.Uri | undefined> {
  const folder = vscode.workspace.getWorkspaceFolder(script);
  type Item = vscode.QuickPickItem & { uri?: vscode.Uri };
  const browse: Item = { label: '$(folder-opened) Browse…', description: 'any file' };
  const qp = vscode.window.createQuickPick<Item>();
  qp.title = `Input for ${baseName(script.fsPath)}`;
  qp.placeholder = 'The file is passed to the script as its first argument';
  qp.matchOnDescription = true;
  qp.busy = true;
  qp.items = [browse];
  qp.show();
  if (folder) {
    void vscode.workspace
      .findFiles(new vscode.RelativePattern(folder, '**/*'), '**/{node_modules,.git,target,__pycache__}/**', 2000)
      .then((files) => {
        const items: Item[] = files
          .filter((f) => f.toString() !== script.toString())
          .sort((a, b) => a.fsPath.localeCompare(b.fsPath))
          .map((f) => {
            const rel = path.relative(folder.uri.fsPath, f.fsPath);
            const dir = path.dirname(rel);
            return { label: path.basename(rel), description: dir === '.' ? folder.name : `${folder.name}/${dir}`, uri: f };
          });
        qp.items = [browse, ...items];
        qp.busy = false;
      });
  } else {
    qp.busy = false;
  }
  const picked = await new Promise<Item | undefined>((resolve) => {
    qp.onDidAccept(() => {
      resolve(qp.selectedItems[0]);
      qp.hide();
    });
    qp.onDidHide(() => resolve(undefined));
  });
  qp.dispose();
  if (!picked) {
    return undefined;
  }
  if (picked.uri) {
    return picked.uri;
  }
  const chosen = await vscode.window.showOpenDialog({
    canSelectMany: false,
    canSelectFolders: false,
    defaultUri: folder?.uri,
    openLabel: 'Use as input',
  });
  return chosen?.[0];
}

/** A workspace with a folder to run scripts in: the named one, the only one, or a pick. */
async function pickRunWorkspace(ctx: Ctx, name: string | undefined): Promise<WorkspaceInfo | undefined> {
  const all = ctx.workspaces.length ? [...ctx.workspaces] : [];
  if (name !== undefined) {
    const ws = all.find((w) => w.name === name);
    if (!ws) {
      throw new Error(`There is no workspace named ${name}.`);
    }
    return ws;
  }
  const list = all.filter((w) => w.root && !w.archived);
  if (list.length === 0) {
    void vscode.window.showInformationMessage('warden: no workspace with a folder to run scripts in.');
    return undefined;
  }
  if (list.length === 1) {
    return list[0];
  }
  list.sort((a, b) => Number(b.active) - Number(a.active) || Number(b.open) - Number(a.open));
  const picked = await vscode.window.showQuickPick(
    list.map((w) => ({ label: `${w.active ? '$(check) ' : ''}${w.name}`, description: w.root ?? '', ws: w })),
    { title: 'Run all scripts', placeHolder: 'Run the scripts of which workspace?', matchOnDescription: true },
  );
  return picked?.ws;
}
