// The status bar item: the active workspace and today's LLM tokens and cost (every
// workspace, since local midnight, from `warden/usage`) while the server runs (click: a
// quick pick of workspaces to activate), and the server's state otherwise (starting,
// restarting, not found, stopped; click: restart or settings). The tooltip also names the
// workspace that owns the file in the active editor (`warden/workspaceFor`) and breaks
// today's usage down. Usage is read again after every LLM request of this window and
// every five minutes (other editors share the database). A second item counts the
// sandboxed runs going.

import * as vscode from 'vscode';
import { CMD_RESTART } from './commands.ts';
import type { Ctx } from './ctx.ts';
import type { LlmRunner } from './llm.ts';
import { startOfToday, usageBrief, usageDetails } from './llmModel.ts';
import { CMD_WORKSPACE_ACTIVATE, REQ_USAGE, REQ_WORKSPACE_FOR, type UsageRow } from './lsp_ext.ts';
import type { RunManager } from './runs.ts';

export const CMD_SHOW_RUNNING = 'warden.runs.showRunning';

const USAGE_REFRESH_MS = 5 * 60_000;

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private fileWorkspace: string | undefined;
  private today: UsageRow | undefined;
  private usageSeq = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly ctx: Ctx;

  constructor(ctx: Ctx, runner: LlmRunner) {
    this.ctx = ctx;
    this.item = vscode.window.createStatusBarItem('warden.status', vscode.StatusBarAlignment.Left, 0);
    this.item.name = 'warden';
    this.disposables.push(
      this.item,
      ctx.onDidChangeState((s) => {
        this.update();
        if (s.kind === 'running') {
          void this.refreshUsage();
        }
      }),
      ctx.onDidChangeWorkspaces(() => void this.refreshFile()),
      vscode.window.onDidChangeActiveTextEditor(() => void this.refreshFile()),
      runner.onDidFinish(() => void this.refreshUsage()),
    );
    this.timer = setInterval(() => void this.refreshUsage(), USAGE_REFRESH_MS);
    this.update();
    this.item.show();
  }

  /** Today's totals, every workspace (`warden/usage {since: local midnight}`). */
  async refreshUsage(): Promise<void> {
    if (this.ctx.state.kind !== 'running') {
      return;
    }
    const seq = ++this.usageSeq;
    try {
      const usage = await this.ctx.request(REQ_USAGE, { since: startOfToday() });
      if (seq === this.usageSeq) {
        this.today = usage.total;
        this.update();
      }
    } catch (err) {
      this.ctx.log.warn(`reading today's LLM usage: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private async refreshFile(): Promise<void> {
    const uri = vscode.window.activeTextEditor?.document.uri;
    this.fileWorkspace = undefined;
    if (uri && uri.scheme === 'file' && this.ctx.state.kind === 'running') {
      try {
        this.fileWorkspace = (await this.ctx.request(REQ_WORKSPACE_FOR, { uri: uri.toString() })).name;
      } catch {
        this.fileWorkspace = undefined;
      }
    }
    this.update();
  }

  private update(): void {
    const s = this.ctx.state;
    this.item.backgroundColor = undefined;
    switch (s.kind) {
      case 'running': {
        const brief = usageBrief(this.today);
        this.item.text = `$(shield) ${this.ctx.activeWorkspace}${brief ? ` · $(sparkle) ${brief}` : ''}`;
        const md = new vscode.MarkdownString(undefined, true);
        md.appendMarkdown(`**warden** ${s.version ?? ''}\n\n`);
        md.appendMarkdown(`Active workspace: **${this.ctx.activeWorkspace}**\n\n`);
        if (this.fileWorkspace) {
          md.appendMarkdown(`This file belongs to: **${this.fileWorkspace}**\n\n`);
        }
        md.appendMarkdown(`LLM usage today (every workspace):\n\n`);
        for (const line of usageDetails(this.today)) {
          md.appendMarkdown(`- ${line}\n`);
        }
        md.appendMarkdown('\nClick to switch workspace.');
        this.item.tooltip = md;
        this.item.command = CMD_WORKSPACE_ACTIVATE;
        break;
      }
      case 'starting':
        this.item.text = '$(loading~spin) warden';
        this.item.tooltip = 'warden is starting';
        this.item.command = 'warden.showLogs';
        break;
      case 'restarting':
        this.item.text = '$(sync~spin) warden';
        this.item.tooltip = `warden ${s.reason}; restarting in ${Math.round(s.inMs / 1000)} s. Click to restart now.`;
        this.item.command = CMD_RESTART;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        break;
      case 'missing':
        this.item.text = '$(warning) warden: not found';
        this.item.tooltip = `${s.reason}\nClick to set warden.server.path.`;
        this.item.command = { command: 'workbench.action.openSettings', title: 'Settings', arguments: ['warden.server.path'] };
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
      case 'stopped':
        this.item.text = '$(error) warden';
        this.item.tooltip = `warden is stopped: ${s.reason}\nClick to restart.`;
        this.item.command = CMD_RESTART;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * A second item beside the workspace one while runs of this window are going:
 * `$(sync~spin) 2 running`; click for the runs going (their terminals, Cancel).
 */
export class RunsStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly runs: RunManager;

  constructor(runs: RunManager) {
    this.runs = runs;
    this.item = vscode.window.createStatusBarItem('warden.runs', vscode.StatusBarAlignment.Left, -1);
    this.item.name = 'warden runs';
    this.item.command = CMD_SHOW_RUNNING;
    this.disposables.push(this.item, runs.onDidChange(() => this.update()));
    this.update();
  }

  private update(): void {
    const running = this.runs.running;
    if (running.length === 0) {
      this.item.hide();
      return;
    }
    this.item.text = `$(sync~spin) ${running.length} running`;
    this.item.tooltip = `warden runs going or queued:\n${running.map((r) => `• ${r.path}`).join('\n')}\nClick to see them.`;
    this.item.show();
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
