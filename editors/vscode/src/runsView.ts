// The Warden side bar's Runs view: runs going in this window first (click: their
// terminal), then the stored history of every workspace from `warden/runs`, newest
// first, a page at a time (a *Load more* row while `nextCursor` says there is more).
// Each row: a status icon, the script, status · duration · when · workspace, and a
// tooltip with the git HEAD, exit code and message. Context actions: Re-run, Show log,
// Cancel. Refreshed when a run finishes and when the server (re)starts. Screen readers
// get a spoken label per row (script, status, duration, when to the second, workspace).

import * as vscode from 'vscode';
import { type Ctx, message } from './ctx.ts';
import { REQ_RUNS, type Run } from './lsp_ext.ts';
import {
  baseName,
  formatDuration,
  runDescription,
  runDetails,
  spokenRun,
  statusIcon,
} from './runModel.ts';
import type { RunManager, TrackedRun } from './runs.ts';

export const CMD_RUNS_REFRESH = 'warden.runs.refresh';
export const CMD_RUNS_LOAD_MORE = 'warden.runs.loadMore';
export const CMD_RUNS_SHOW_LOG = 'warden.runs.showLog';
export const CMD_RUNS_REVEAL = 'warden.runs.reveal';

const PAGE = 50;

/** A stored run. */
export class RunItem extends vscode.TreeItem {
  readonly run: Run;

  constructor(run: Run, now: number) {
    super(baseName(run.path), vscode.TreeItemCollapsibleState.None);
    this.run = run;
    this.id = `run:${run.runId}`;
    this.description = runDescription(run, now);
    const md = new vscode.MarkdownString(runDetails(run).join('\n\n'));
    this.tooltip = md;
    const icon = statusIcon(run.status);
    this.iconPath = new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
    this.contextValue = `run:stored${run.uri ? ':file' : ''}`;
    this.command = { command: CMD_RUNS_SHOW_LOG, title: 'Show log', arguments: [this] };
    this.accessibilityInformation = { label: spokenRun(run, now) };
  }

  get runId(): string {
    return this.run.runId;
  }
}

/** A run of this window that has not finished. */
export class RunningItem extends vscode.TreeItem {
  readonly tracked: TrackedRun;

  constructor(run: TrackedRun, now: number) {
    super(baseName(run.path), vscode.TreeItemCollapsibleState.None);
    this.tracked = run;
    this.id = `running:${run.runId}`;
    this.description = `running · ${formatDuration(now - run.startedAt)}`;
    this.tooltip = `${run.path}: running (run ${run.runId})${run.input ? `\ninput: ${run.input}` : ''}\nClick to show its terminal.`;
    const icon = statusIcon('running');
    this.iconPath = new vscode.ThemeIcon(icon.id, icon.color ? new vscode.ThemeColor(icon.color) : undefined);
    this.contextValue = `run:running${run.uri ? ':file' : ''}`;
    this.command = { command: CMD_RUNS_REVEAL, title: 'Show terminal', arguments: [run.runId] };
    this.accessibilityInformation = {
      label: `${run.path} running for ${formatDuration(now - run.startedAt)}${run.input ? `, input ${run.input}` : ''}; press to show its terminal`,
    };
  }

  get runId(): string {
    return this.tracked.runId;
  }
}

class LoadMoreItem extends vscode.TreeItem {
  constructor() {
    super('Load more…', vscode.TreeItemCollapsibleState.None);
    this.id = 'runs:more';
    this.iconPath = new vscode.ThemeIcon('ellipsis');
    this.command = { command: CMD_RUNS_LOAD_MORE, title: 'Load more runs' };
    this.contextValue = 'runs:more';
    this.accessibilityInformation = { label: 'Load more runs' };
  }
}

class MessageItem extends vscode.TreeItem {
  constructor(text: string, icon: string) {
    super(text, vscode.TreeItemCollapsibleState.None);
    this.id = 'runs:message';
    this.iconPath = new vscode.ThemeIcon(icon);
    this.accessibilityInformation = { label: text };
  }
}

type Node = RunItem | RunningItem | LoadMoreItem | MessageItem;

export class RunsView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  private runs: Run[] = [];
  private cursor: string | null = null;
  private error: string | undefined;
  private loaded = false;
  private loading: Promise<void> | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly ctx: Ctx;
  private readonly manager: RunManager;

  constructor(ctx: Ctx, manager: RunManager) {
    this.ctx = ctx;
    this.manager = manager;
    this.disposables.push(
      this.emitter,
      manager.onDidChange(() => this.emitter.fire(undefined)),
      manager.onDidFinish(() => this.scheduleRefresh()),
      ctx.onDidChangeState((s) => {
        if (s.kind === 'running') {
          this.scheduleRefresh();
        } else {
          this.emitter.fire(undefined);
        }
      }),
    );
  }

  /** Stored runs shown so far (newest first). */
  get history(): readonly Run[] {
    return this.runs;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    return node;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node) {
      return [];
    }
    if (this.ctx.state.kind !== 'running') {
      return [];
    }
    if (!this.loaded) {
      await this.refresh(false);
    }
    const now = Date.now();
    const stored = new Set(this.runs.map((r) => r.runId));
    const items: Node[] = this.manager.running.filter((r) => !stored.has(r.runId)).map((r) => new RunningItem(r, now));
    if (this.error) {
      items.push(new MessageItem(`Could not load the runs: ${this.error}`, 'warning'));
    }
    items.push(...this.runs.map((r) => new RunItem(r, now)));
    if (this.cursor) {
      items.push(new LoadMoreItem());
    }
    return items; // empty: the view's welcome content offers to run scripts
  }

  /** Reloads the newest runs (as many as were shown, at least a page). */
  refresh(fire = true): Promise<void> {
    if (this.loading) {
      return this.loading;
    }
    const limit = Math.min(500, Math.max(PAGE, this.runs.length));
    this.loading = (async () => {
      try {
        const result = await this.ctx.request(REQ_RUNS, { limit });
        this.runs = result.runs;
        this.cursor = result.nextCursor;
        this.error = undefined;
      } catch (err) {
        this.error = message(err);
      } finally {
        this.loaded = true;
        this.loading = undefined;
      }
      if (fire) {
        this.emitter.fire(undefined);
      }
    })();
    return this.loading;
  }

  /** The next page of older runs. */
  async loadMore(): Promise<void> {
    if (!this.cursor) {
      return;
    }
    const result = await this.ctx.request(REQ_RUNS, { limit: PAGE, cursor: this.cursor });
    const known = new Set(this.runs.map((r) => r.runId));
    this.runs.push(...result.runs.filter((r) => !known.has(r.runId)));
    this.cursor = result.nextCursor;
    this.emitter.fire(undefined);
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
    }
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      if (this.ctx.state.kind === 'running') {
        void this.refresh();
      }
    }, 300);
  }

  dispose(): void {
    if (this.refreshTimer) {
      clearTimeout(this.refreshTimer);
    }
    this.disposables.forEach((d) => d.dispose());
  }
}
