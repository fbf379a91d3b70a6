// The Warden side bar's Workspaces view: every workspace (active one checked, archived
// ones dimmed) with its folder, git state, system prompt (click to edit it in a tab), its
// LLM usage totals (`warden/usage {workspace}`: requests, tokens, cost, cache-hit rate;
// click for its LLM spans in the trace viewer) and a link to its traces; context-menu
// actions run the workspace commands. Refreshed by `warden/workspacesChanged` and after
// every LLM request of this window. Every row has a spoken label (no icons, no hashes).

import * as vscode from 'vscode';
import { CMD_EDIT_PROMPT, CMD_OPEN_TRACES } from './commands.ts';
import { type Ctx, message } from './ctx.ts';
import type { LlmRunner } from './llm.ts';
import { usageDetails, usageLine } from './llmModel.ts';
import { REQ_USAGE, type WorkspaceInfo } from './lsp_ext.ts';
import { describe, details, promptSourceLabel, spokenWorkspace } from './workspaceModel.ts';

export class WorkspaceItem extends vscode.TreeItem {
  readonly workspace: WorkspaceInfo;

  constructor(workspace: WorkspaceInfo) {
    super(workspace.name, vscode.TreeItemCollapsibleState.Collapsed);
    this.workspace = workspace;
    this.id = `workspace:${workspace.name}`;
    this.description = describe(workspace);
    this.tooltip = details(workspace);
    this.accessibilityInformation = { label: spokenWorkspace(workspace) };
    this.iconPath = new vscode.ThemeIcon(
      workspace.archived ? 'archive' : workspace.active ? 'pass-filled' : workspace.root ? 'repo' : 'folder-library',
    );
    // Flags for the context menu's `when` clauses (`viewItem =~ /:archived/`).
    const flags = ['workspace'];
    if (workspace.active) flags.push('active');
    if (workspace.archived) flags.push('archived');
    if (workspace.open) flags.push('open');
    if (workspace.name === 'default') flags.push('default');
    if (workspace.root) flags.push('folder');
    this.contextValue = flags.join(':');
  }
}

class DetailItem extends vscode.TreeItem {
  readonly workspace: WorkspaceInfo;

  constructor(workspace: WorkspaceInfo, key: string, label: string, description: string, icon: string, command?: vscode.Command, tooltip?: string) {
    super(label, vscode.TreeItemCollapsibleState.None);
    this.workspace = workspace;
    this.id = `workspace:${workspace.name}:${key}`;
    this.description = description;
    this.iconPath = new vscode.ThemeIcon(icon);
    this.command = command;
    this.tooltip = tooltip;
    this.contextValue = `detail:${key}`;
    // Read aloud as `Git: main, commit 1a2b3c4 of alpha`, never the tooltip's long hashes.
    this.accessibilityInformation = { label: `${label}: ${description} (workspace ${workspace.name})` };
  }
}

type Node = WorkspaceItem | DetailItem;

export class WorkspacesView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: Ctx;

  constructor(ctx: Ctx, runner: LlmRunner) {
    this.ctx = ctx;
    this.disposables.push(
      this.emitter,
      ctx.onDidChangeWorkspaces(() => this.emitter.fire(undefined)),
      ctx.onDidChangeState(() => this.emitter.fire(undefined)),
      runner.onDidFinish(() => this.emitter.fire(undefined)),
    );
  }

  getTreeItem(node: Node): vscode.TreeItem {
    return node;
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) {
      if (this.ctx.state.kind !== 'running') {
        return []; // the view's welcome content explains and offers a restart
      }
      return this.ctx.workspaces.map((w) => new WorkspaceItem(w));
    }
    if (!(node instanceof WorkspaceItem)) {
      return [];
    }
    const w = node.workspace;
    const items: Node[] = [];
    const prompt = w.systemPrompt ?? '';
    items.push(
      new DetailItem(
        w,
        'prompt',
        'System prompt',
        w.systemPrompt ? `${promptSourceLabel(w.systemPromptSource)}: ${firstLine(prompt)}` : 'none (click to write one)',
        'comment-discussion',
        { command: CMD_EDIT_PROMPT, title: 'Edit system prompt', arguments: [w.name] },
        prompt ? `${promptSourceLabel(w.systemPromptSource)}\n\n${prompt.slice(0, 1000)}` : undefined,
      ),
    );
    if (w.root) {
      items.push(
        new DetailItem(w, 'folder', 'Folder', w.root, 'folder', {
          command: 'revealInExplorer',
          title: 'Reveal',
          arguments: [vscode.Uri.file(w.root)],
        }),
      );
    }
    if (w.branch || w.head || w.remote) {
      items.push(
        new DetailItem(
          w,
          'git',
          'Git',
          `${w.branch ?? 'detached'}${w.head ? ` @ ${w.head.slice(0, 8)}` : ''}`,
          'git-branch',
          undefined,
          w.remote ? `origin: ${w.remote}` : undefined,
        ),
      );
    }
    items.push(await this.usageItem(w));
    items.push(
      new DetailItem(w, 'traces', 'Traces', 'open the trace viewer for this workspace', 'pulse', {
        command: CMD_OPEN_TRACES,
        title: 'Show traces',
        arguments: [w.name],
      }),
    );
    return items;
  }

  private async usageItem(w: WorkspaceInfo): Promise<DetailItem> {
    const open: vscode.Command = {
      command: CMD_OPEN_TRACES,
      title: 'Show LLM spans',
      arguments: [{ workspace: w.name, kind: 'llm' }],
    };
    try {
      const usage = await this.ctx.request(REQ_USAGE, { workspace: w.name });
      const tooltip = [`LLM usage of ${w.name}, all time:`, ...usageDetails(usage.total)];
      for (const row of usage.rows) {
        tooltip.push(`${row.key}: ${usageLine(row)}`);
      }
      return new DetailItem(w, 'usage', 'LLM usage', usageLine(usage.total), 'sparkle', open, tooltip.join('\n'));
    } catch (err) {
      return new DetailItem(w, 'usage', 'LLM usage', `unavailable: ${message(err)}`, 'warning');
    }
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0];
  return line.length > 60 ? `${line.slice(0, 60)}…` : line;
}
