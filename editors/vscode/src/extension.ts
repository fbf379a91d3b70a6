// Entry point of the warden VS Code extension: builds the context (server lifecycle),
// the LLM runner (with its explanation panel), the commands, the status bar, the
// workspaces view, the prompt editor file system and the trace viewer, then starts the
// server. Everything is disposed on deactivation.

import * as vscode from 'vscode';
import { registerCommands } from './commands.ts';
import { Ctx } from './ctx.ts';
import { LlmRunner } from './llm.ts';
import { PromptFileSystem } from './promptFs.ts';
import { StatusBar } from './statusBar.ts';
import { TraceViewer } from './traceViewer.ts';
import { PROMPT_SCHEME } from './workspaceModel.ts';
import { WorkspacesView } from './workspacesView.ts';

let ctx: Ctx | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  ctx = new Ctx(context);
  const traces = new TraceViewer(ctx, context.extensionUri);
  const runner = new LlmRunner(ctx, context.extensionUri);
  const view = new WorkspacesView(ctx, runner);
  context.subscriptions.push(
    ctx,
    traces,
    runner,
    view,
    new StatusBar(ctx, runner),
    vscode.window.registerTreeDataProvider('warden.workspaces', view),
    vscode.workspace.registerFileSystemProvider(PROMPT_SCHEME, new PromptFileSystem(ctx), {
      isCaseSensitive: true,
    }),
    ...registerCommands(ctx, traces, runner),
  );
  void ctx.start();
}

export async function deactivate(): Promise<void> {
  await ctx?.stop();
  ctx = undefined;
}
