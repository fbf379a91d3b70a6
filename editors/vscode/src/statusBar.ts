// The status bar item: the workspace of the file in the active editor
// (`warden/workspaceFor`: where its findings, LLM calls and runs go), or the server's
// active workspace when no file of a folder is open (untitled files and files outside
// every folder belong to it), and today's LLM tokens and cost (every workspace, since
// local midnight, from `warden/usage`) while the server runs (click: a quick pick of
// workspaces to activate); the server's state otherwise (starting, restarting, not
// found, stopped; click: restart or settings). The tooltip names both workspaces when
// they differ and breaks today's usage down; screen readers get a spoken label instead
// of the icons. Usage is read again after every LLM request of this window and
// every five minutes (other editors share the database). A second item counts the
// sandboxed runs going; a third the LLM gateway's calls today (the stored count, then
// one per `warden/gatewayCall`), with the last call, the calls that need attention (a
// warning toast each, one at a time), whether terminals use the gateway and the budgets
// in its tooltip.

import * as vscode from 'vscode';
import { CMD_OPEN_SERVER_SETTINGS, CMD_RESTART } from './commands.ts';
import type { Ctx } from './ctx.ts';
import { CMD_GATEWAY_CALLS, CMD_GATEWAY_MENU, type GatewayTerminals } from './gateway.ts';
import {
  budgetLines,
  CallTally,
  callProblem,
  gatewayItemText,
  gatewayRequests,
  gatewaySpoken,
  gatewayTooltip,
  localDay,
} from './gatewayModel.ts';
import type { LlmRunner } from './llm.ts';
import { startOfToday, usageBrief, usageDetails, usageSpoken } from './llmModel.ts';
import { CMD_WORKSPACE_ACTIVATE, type GatewayCallParams, REQ_USAGE, REQ_WORKSPACE_FOR, type UsageRow } from './lsp_ext.ts';
import type { RunManager } from './runs.ts';

export const CMD_SHOW_RUNNING = 'warden.runs.showRunning';

const USAGE_REFRESH_MS = 5 * 60_000;

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private fileWorkspace: string | undefined;
  private fileSeq = 0;
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
    const editor = vscode.window.activeTextEditor;
    if (!editor && vscode.window.visibleTextEditors.length > 0 && this.ctx.state.kind === 'running') {
      // Focus went to a webview (the explanation panel, the trace viewer) or a panel:
      // the file beside it is still what the user works on.
      this.update();
      return;
    }
    const uri = editor?.document.uri;
    const seq = ++this.fileSeq;
    let name: string | undefined;
    if (uri && uri.scheme === 'file' && this.ctx.state.kind === 'running') {
      try {
        name = (await this.ctx.request(REQ_WORKSPACE_FOR, { uri: uri.toString() })).name;
      } catch {
        name = undefined;
      }
    }
    if (seq === this.fileSeq) {
      this.fileWorkspace = name;
      this.update();
    }
  }

  private update(): void {
    const s = this.ctx.state;
    this.item.backgroundColor = undefined;
    switch (s.kind) {
      case 'running': {
        const brief = usageBrief(this.today);
        const active = this.ctx.activeWorkspace;
        const shown = this.fileWorkspace ?? active;
        this.item.text = `$(shield) ${shown}${brief ? ` · $(sparkle) ${brief}` : ''}`;
        const md = new vscode.MarkdownString(undefined, true);
        md.appendMarkdown(`**warden** ${s.version ?? ''}\n\n`);
        if (this.fileWorkspace) {
          md.appendMarkdown(`This file belongs to **${this.fileWorkspace}**: its findings, LLM requests and runs go there.\n\n`);
          if (this.fileWorkspace !== active) {
            md.appendMarkdown(`Active workspace (untitled files, files outside every folder): **${active}**\n\n`);
          }
        } else {
          md.appendMarkdown(`Active workspace: **${active}** (untitled files and files outside every folder belong to it)\n\n`);
        }
        md.appendMarkdown(`LLM usage today (every workspace):\n\n`);
        for (const line of usageDetails(this.today)) {
          md.appendMarkdown(`- ${line}\n`);
        }
        md.appendMarkdown('\nClick to switch the active workspace.');
        this.item.tooltip = md;
        this.item.command = CMD_WORKSPACE_ACTIVATE;
        this.item.accessibilityInformation = {
          label: `warden: workspace ${shown}${this.fileWorkspace ? ' (this file)' : ' (active)'}${
            this.fileWorkspace && this.fileWorkspace !== active ? `, active workspace ${active}` : ''
          }${brief ? `, LLM usage today ${usageSpoken(this.today)}` : ''}. Press to switch the active workspace.`,
          role: 'button',
        };
        break;
      }
      case 'starting':
        this.item.text = '$(loading~spin) warden';
        this.item.tooltip = 'warden is starting';
        this.item.accessibilityInformation = { label: 'warden is starting. Press to show the logs.', role: 'button' };
        this.item.command = 'warden.showLogs';
        break;
      case 'restarting':
        this.item.text = '$(sync~spin) warden';
        this.item.tooltip = `warden ${s.reason}; restarting in ${Math.round(s.inMs / 1000)} s. Click to restart now.`;
        this.item.command = CMD_RESTART;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        this.item.accessibilityInformation = { label: `warden ${s.reason}; restarting. Press to restart now.`, role: 'button' };
        break;
      case 'missing':
        this.item.text = '$(warning) warden: not found';
        this.item.tooltip = `${s.reason}\nClick to set warden.server.path.`;
        this.item.command = CMD_OPEN_SERVER_SETTINGS;
        this.item.accessibilityInformation = { label: `warden: server not found. ${s.reason} Press to set warden.server.path.`, role: 'button' };
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        break;
      case 'stopped':
        this.item.text = '$(error) warden';
        this.item.tooltip = `warden is stopped: ${s.reason}\nClick to restart.`;
        this.item.command = CMD_RESTART;
        this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
        this.item.accessibilityInformation = { label: `warden is stopped: ${s.reason}. Press to restart.`, role: 'button' };
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
    this.item.accessibilityInformation = {
      label: `warden: ${running.length} ${running.length === 1 ? 'run' : 'runs'} going. Press to see them.`,
      role: 'button',
    };
    this.item.tooltip = `warden runs going or queued:\n${running.map((r) => `• ${r.path}`).join('\n')}\nClick to see them.`;
    this.item.show();
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

/**
 * The LLM gateway's item while it runs: `$(plug) gateway 3`, the calls through it
 * today (every workspace, since local midnight); click for *Warden: LLM Gateway…*. A
 * blocked call or one whose reply brings in a malicious package turns it to a warning
 * until the next click, and is a warning notification (one at a time).
 */
export class GatewayStatusItem implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly tally = new CallTally();
  private readonly timer: NodeJS.Timeout;
  private usageSeq = 0;
  private unseenProblem = false;
  private notifying = false;
  private readonly ctx: Ctx;
  private readonly terminals: GatewayTerminals;

  constructor(ctx: Ctx, terminals: GatewayTerminals) {
    this.ctx = ctx;
    this.terminals = terminals;
    this.item = vscode.window.createStatusBarItem('warden.gateway', vscode.StatusBarAlignment.Left, -2);
    this.item.name = 'warden LLM gateway';
    this.item.command = CMD_GATEWAY_MENU;
    this.disposables.push(
      this.item,
      ctx.onDidChangeState((s) => {
        if (s.kind === 'running') {
          void this.refreshCount();
        }
        this.update();
      }),
      ctx.onGatewayCall((call) => this.onCall(call)),
      terminals.onDidChange(() => this.update()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('warden.llm.budget')) {
          this.update();
        }
      }),
    );
    // The count starts from zero at midnight.
    this.timer = setInterval(() => this.update(), 60_000);
    this.update();
  }

  /** The stored count of today's gateway calls (`warden/usage`, by action). */
  private async refreshCount(): Promise<void> {
    const seq = ++this.usageSeq;
    const now = new Date();
    try {
      const usage = await this.ctx.request(REQ_USAGE, { since: startOfToday(now), groupBy: 'action' });
      if (seq === this.usageSeq) {
        this.tally.reset(gatewayRequests(usage), new Date(), localDay(now));
        this.update();
      }
    } catch (err) {
      this.ctx.log.warn(`reading today's gateway calls: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private onCall(call: GatewayCallParams): void {
    this.tally.record(call, new Date());
    const problem = callProblem(call);
    if (problem) {
      this.unseenProblem = true;
      this.warn(problem, call);
    }
    this.update();
  }

  private warn(problem: string, call: GatewayCallParams): void {
    if (this.notifying) {
      return; // the tooltip lists the latest ones
    }
    this.notifying = true;
    const verb = call.outcome === 'blocked' ? 'blocked a call' : 'passed on a risky reply';
    void vscode.window
      .showWarningMessage(`warden's LLM gateway ${verb} (workspace ${call.workspace}): ${problem}`, 'Show in Trace Viewer')
      .then((choice) => {
        this.notifying = false;
        if (choice) {
          this.unseenProblem = false;
          this.update();
          void vscode.commands.executeCommand(CMD_GATEWAY_CALLS);
        }
      });
  }

  private update(): void {
    const state = this.terminals.state;
    if (this.ctx.state.kind !== 'running' || state.kind === 'unavailable') {
      this.item.hide();
      return;
    }
    const count = this.tally.count(new Date());
    this.item.text = gatewayItemText(count, this.unseenProblem);
    this.item.backgroundColor = this.unseenProblem ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    const config = vscode.workspace.getConfiguration('warden');
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(
      gatewayTooltip({
        count,
        last: this.tally.last,
        problems: this.tally.problems,
        terminals: state,
        budgets: budgetLines(config.get('llm.budget.dailyUsd'), config.get('llm.budget.requestTokens')),
      }).join('\n'),
    );
    this.item.tooltip = md;
    this.item.accessibilityInformation = { label: gatewaySpoken(count, this.unseenProblem, state.kind), role: 'button' };
    this.item.show();
  }

  /** The menu was opened: the warning has been seen. */
  seen(): void {
    if (this.unseenProblem) {
      this.unseenProblem = false;
      this.update();
    }
  }

  dispose(): void {
    clearInterval(this.timer);
    this.disposables.forEach((d) => d.dispose());
  }
}
