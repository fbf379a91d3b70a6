// Entry point of the warden VS Code extension: builds the context (server lifecycle),
// the LLM runner (with its explanation panel), the fix-until-it-runs loops (fix.ts), the run manager (a terminal per
// sandboxed run) with the Runs view, its documents and CodeLens, the commands, the
// LLM gateway's terminal variables and commands, the status bar (with the gateway's
// calls), the workspaces view, the prompt editor file system, the trace viewer and
// the status report (*Warden: Show Status*), keeps the `warden.llmConfigured` context
// key up to date, then starts the server. Everything is disposed on deactivation.

import * as vscode from 'vscode';
import { registerCommands } from './commands.ts';
import { Ctx } from './ctx.ts';
import { FixUi } from './fix.ts';
import { GatewayTerminals, registerGatewayCommands } from './gateway.ts';
import { LlmRunner } from './llm.ts';
import { PromptFileSystem } from './promptFs.ts';
import { RunUi } from './runCommands.ts';
import { RUN_SCHEME, RunDocs } from './runDocs.ts';
import { RunLensProvider } from './runLens.ts';
import { RunManager } from './runs.ts';
import { RunsView } from './runsView.ts';
import { llmConfigured } from './settings.ts';
import { STATUS_SCHEME, StatusDocs } from './status.ts';
import { GatewayStatusItem, RunsStatusItem, StatusBar } from './statusBar.ts';
import { TraceViewer } from './traceViewer.ts';
import { PROMPT_SCHEME } from './workspaceModel.ts';
import { WorkspacesView } from './workspacesView.ts';

let ctx: Ctx | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  ctx = new Ctx(context);
  const traces = new TraceViewer(ctx, context.extensionUri);
  const runner = new LlmRunner(ctx, context.extensionUri);
  const fix = new FixUi(ctx);
  const view = new WorkspacesView(ctx, runner);
  const runs = new RunManager(ctx);
  const runsView = new RunsView(ctx, runs);
  const runDocs = new RunDocs(ctx);
  const lenses = new RunLensProvider();
  const runUi = new RunUi(ctx, runs, runsView, runDocs);
  const gateway = new GatewayTerminals(ctx, context);
  const status = new StatusDocs(ctx, () => gateway.state);
  const gatewayItem = new GatewayStatusItem(ctx, gateway);
  context.subscriptions.push(
    ctx,
    traces,
    runner,
    fix,
    view,
    runs,
    runsView,
    runDocs,
    lenses,
    new StatusBar(ctx, runner),
    new RunsStatusItem(runs),
    gateway,
    gatewayItem,
    vscode.window.registerTreeDataProvider('warden.workspaces', view),
    vscode.window.registerTreeDataProvider('warden.runs', runsView),
    vscode.workspace.registerTextDocumentContentProvider(RUN_SCHEME, runDocs),
    status,
    vscode.workspace.registerTextDocumentContentProvider(STATUS_SCHEME, status),
    vscode.languages.registerCodeLensProvider({ scheme: 'file' }, lenses),
    vscode.workspace.registerFileSystemProvider(PROMPT_SCHEME, new PromptFileSystem(ctx), {
      isCaseSensitive: true,
    }),
    ...registerCommands(ctx, traces, runner, runs, runUi, status, fix),
    ...registerGatewayCommands(ctx, traces, gateway, () => gatewayItem.seen()),
  );
  // LLM menu entries show once the settings name a model (`warden.llmConfigured`).
  const llmKey = (): Thenable<unknown> =>
    vscode.commands.executeCommand('setContext', 'warden.llmConfigured', llmConfigured((k) => vscode.workspace.getConfiguration('warden').get(k)));
  void llmKey();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('warden.llm')) {
        void llmKey();
      }
    }),
  );
  void ctx.start();
}

export async function deactivate(): Promise<void> {
  await ctx?.stop();
  ctx = undefined;
}
