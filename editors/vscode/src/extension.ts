// Entry point of the warden VS Code extension: builds the context (server lifecycle),
// the commands, the status bar, the workspaces view, the prompt editor file system and
// the trace viewer, then starts the server. Everything is disposed on deactivation.

import * as vscode from 'vscode';
import { registerCommands } from './commands.ts';
import { Ctx } from './ctx.ts';
import { PromptFileSystem } from './promptFs.ts';
import { StatusBar } from './statusBar.ts';
import { TraceViewer } from './traceViewer.ts';
import { PROMPT_SCHEME } from './workspaceModel.ts';
import { WorkspacesView } from './workspacesView.ts';

let ctx: Ctx | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  ctx = new Ctx(context);
  const traces = new TraceViewer(ctx, context.extensionUri);
  const view = new WorkspacesView(ctx);
  context.subscriptions.push(
    ctx,
    traces,
    view,
    new StatusBar(ctx),
    vscode.window.registerTreeDataProvider('warden.workspaces', view),
    vscode.workspace.registerFileSystemProvider(PROMPT_SCHEME, new PromptFileSystem(ctx), {
      isCaseSensitive: true,
    }),
    ...registerCommands(ctx, traces),
  );
  void ctx.start();
}

export async function deactivate(): Promise<void> {
  await ctx?.stop();
  ctx = undefined;
}
