// The extension's one context object: finds and starts the server, owns the language
// client, restarts it with backoff when it crashes (one notification per streak, with
// Show logs), forwards settings changes, and re-publishes the server's notifications
// (workspaces, live traces, LLM chunks, run output, LLM gateway calls) as VS Code events for the views.
// Commands and views talk to the server only through here, so they work (with a clear
// error) while it is stopped. The context keys `warden.serverRunning` and
// `warden.serverState` (starting, running, restarting, stopped, missing) drive menus and
// the side bar's welcome text.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditResult,
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  State,
} from 'vscode-languageclient/node';
import { Backoff } from './backoff.ts';
import { createClient, serverSection, type WardenClient } from './client.ts';
import {
  CMD_WORKSPACE_ACTIVATE,
  type FixFinishedParams,
  type FixRoundParams,
  type GatewayCallParams,
  type LlmChunkParams,
  NOTIF_FIX_FINISHED,
  NOTIF_FIX_ROUND,
  NOTIF_GATEWAY_CALL,
  NOTIF_LLM_CHUNK,
  NOTIF_RUN_FINISHED,
  NOTIF_RUN_OUTPUT,
  NOTIF_TRACE_FINISHED,
  NOTIF_TRACE_STARTED,
  NOTIF_WORKSPACES_CHANGED,
  REQ_WORKSPACES,
  type RunFinishedParams,
  type RunOutputParams,
  type ServerCommand,
  type ServerCommands,
  type ServerNotifications,
  type ServerRequest,
  type ServerRequests,
  type TraceFinishedParams,
  type TraceStartedParams,
  type WorkspaceInfo,
  type WorkspacesChangedParams,
} from './lsp_ext.ts';
import { openSetting } from './openSettings.ts';
import { ProgressTracker } from './progress.ts';
import { resolveServer } from './serverPath.ts';
import { RESTART_KEYS, serverKeys } from './settings.ts';

export type ServerState =
  | { kind: 'starting' }
  | { kind: 'running'; path: string; version?: string }
  | { kind: 'restarting'; inMs: number; reason: string }
  | { kind: 'stopped'; reason: string }
  | { kind: 'missing'; reason: string };

export class NotRunningError extends Error {}

export class Ctx implements vscode.Disposable {
  readonly log: vscode.LogOutputChannel;
  private readonly traceChannel: vscode.LogOutputChannel;
  private readonly keys: string[];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly backoff = new Backoff();

  private client: WardenClient | undefined;
  private progress: ProgressTracker | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private lastExit = '';
  private notifying = false;
  private generation = 0;
  private crashedGeneration = -1;
  private hadServer = false;
  private _state: ServerState = { kind: 'stopped', reason: 'not started' };
  private _workspaces: WorkspaceInfo[] = [];
  private _active = 'default';

  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly workspacesEmitter = new vscode.EventEmitter<WorkspacesChangedParams>();
  private readonly traceStartedEmitter = new vscode.EventEmitter<TraceStartedParams>();
  private readonly traceFinishedEmitter = new vscode.EventEmitter<TraceFinishedParams>();
  private readonly llmChunkEmitter = new vscode.EventEmitter<LlmChunkParams>();
  private readonly runOutputEmitter = new vscode.EventEmitter<RunOutputParams>();
  private readonly runFinishedEmitter = new vscode.EventEmitter<RunFinishedParams>();
  private readonly gatewayCallEmitter = new vscode.EventEmitter<GatewayCallParams>();
  private readonly fixRoundEmitter = new vscode.EventEmitter<FixRoundParams>();
  private readonly fixFinishedEmitter = new vscode.EventEmitter<FixFinishedParams>();
  readonly onDidChangeState = this.stateEmitter.event;
  readonly onDidChangeWorkspaces = this.workspacesEmitter.event;
  readonly onTraceStarted = this.traceStartedEmitter.event;
  readonly onTraceFinished = this.traceFinishedEmitter.event;
  readonly onLlmChunk = this.llmChunkEmitter.event;
  readonly onRunOutput = this.runOutputEmitter.event;
  readonly onRunFinished = this.runFinishedEmitter.event;
  readonly onGatewayCall = this.gatewayCallEmitter.event;
  readonly onFixRound = this.fixRoundEmitter.event;
  readonly onFixFinished = this.fixFinishedEmitter.event;

  readonly extension: vscode.ExtensionContext;

  /** Set by the LLM runner: previews the server's edits while an LLM edit runs. */
  applyEditHook: ((params: ApplyWorkspaceEditParams) => Promise<ApplyWorkspaceEditResult | undefined>) | undefined;

  constructor(extension: vscode.ExtensionContext) {
    this.extension = extension;
    this.log = vscode.window.createOutputChannel('warden', { log: true });
    this.traceChannel = vscode.window.createOutputChannel('warden (LSP trace)', { log: true });
    this.keys = serverKeys(extension.extension.packageJSON);
    this.disposables.push(
      this.log,
      this.traceChannel,
      this.stateEmitter,
      this.workspacesEmitter,
      this.traceStartedEmitter,
      this.traceFinishedEmitter,
      this.llmChunkEmitter,
      this.runOutputEmitter,
      this.runFinishedEmitter,
      this.gatewayCallEmitter,
      this.fixRoundEmitter,
      this.fixFinishedEmitter,
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigChanged(e)),
    );
  }

  get state(): ServerState {
    return this._state;
  }

  get workspaces(): readonly WorkspaceInfo[] {
    return this._workspaces;
  }

  get activeWorkspace(): string {
    return this._active;
  }

  private setState(state: ServerState): void {
    this._state = state;
    void vscode.commands.executeCommand('setContext', 'warden.serverRunning', state.kind === 'running');
    // The side bar's welcome text differs per state (a missing binary offers settings,
    // not a restart).
    void vscode.commands.executeCommand('setContext', 'warden.serverState', state.kind);
    this.stateEmitter.fire(state);
  }

  /** Starts the server unless it runs; resolves when it is ready or has failed. */
  async start(): Promise<void> {
    if (this.client || this._state.kind === 'starting') {
      return;
    }
    this.clearRestartTimer();
    const generation = ++this.generation;
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const found = resolveServer({
      setting: vscode.workspace.getConfiguration('warden').get<string | null>('server.path'),
      bundled: path.join(this.extension.extensionPath, 'server', process.platform === 'win32' ? 'warden.exe' : 'warden'),
      pathEnv: process.env.PATH,
      home: os.homedir(),
      baseDir: folder,
      isExecutable,
      exeSuffix: process.platform === 'win32' ? '.exe' : '',
    });
    if (!found.ok) {
      this.log.error(`${found.message} Looked at: ${found.tried.join(', ')}`);
      this.setState({ kind: 'missing', reason: found.message });
      this.notify(found.message, ['Open Settings']);
      return;
    }
    this.log.info(`starting ${found.path} lsp (found via ${found.source})`);
    this.setState({ kind: 'starting' });
    this.lastExit = '';
    const { client } = createClient({
      serverPath: found.path,
      outputChannel: this.log,
      traceOutputChannel: this.traceChannel,
      serverKeys: this.keys,
      applyEdit: (params) => this.applyEditHook?.(params) ?? Promise.resolve(undefined),
      // The process's exit status usually lands just after the connection closes.
      onUnexpectedClose: () => setTimeout(() => this.onCrash(generation), 250),
      onExit: (code, signal) => {
        this.lastExit = signal ? `signal ${signal}` : `exit code ${code}`;
        this.log.info(`warden exited (${this.lastExit})`);
      },
    });
    this.client = client;
    this.progress = new ProgressTracker(client);
    client.registerFeature(this.progress);
    this.listen(client);
    try {
      await client.start();
    } catch (err) {
      if (generation !== this.generation) {
        return;
      }
      this.log.error(`the server failed to start: ${message(err)}`);
      this.client = undefined;
      this.progress = undefined;
      void client.dispose().catch(() => undefined);
      this.onCrash(generation, `failed to start (${message(err)})`);
      return;
    }
    if (generation !== this.generation) {
      return;
    }
    this.backoff.started(Date.now());
    const info = client.initializeResult?.serverInfo;
    this.log.info(`warden ${info?.version ?? ''} is running`);
    // The active workspace lives in the server process: a restarted server starts on
    // `default`, so bring back the one this window had.
    const previous = this.hadServer ? this._active : undefined;
    this.hadServer = true;
    this.setState({ kind: 'running', path: found.path, version: info?.version });
    try {
      await this.refreshWorkspaces();
      const again = this._workspaces.find((w) => w.name === previous && !w.archived);
      if (again && !again.active) {
        this.log.info(`re-activating workspace ${again.name} after the restart`);
        await this.command(CMD_WORKSPACE_ACTIVATE, { name: again.name });
        await this.refreshWorkspaces();
      }
    } catch (err) {
      this.log.warn(`could not restore the workspaces: ${message(err)}`);
    }
  }

  private listen(client: WardenClient): void {
    const on = <N extends keyof ServerNotifications>(
      method: N,
      handler: (params: ServerNotifications[N]) => void,
    ): void => {
      client.onNotification(method, handler);
    };
    on(NOTIF_WORKSPACES_CHANGED, (p) => this.updateWorkspaces(p));
    on(NOTIF_TRACE_STARTED, (p) => this.traceStartedEmitter.fire(p));
    on(NOTIF_TRACE_FINISHED, (p) => this.traceFinishedEmitter.fire(p));
    on(NOTIF_LLM_CHUNK, (p) => this.llmChunkEmitter.fire(p));
    on(NOTIF_RUN_OUTPUT, (p) => this.runOutputEmitter.fire(p));
    on(NOTIF_RUN_FINISHED, (p) => this.runFinishedEmitter.fire(p));
    on(NOTIF_GATEWAY_CALL, (p) => this.gatewayCallEmitter.fire(p));
    on(NOTIF_FIX_ROUND, (p) => this.fixRoundEmitter.fire(p));
    on(NOTIF_FIX_FINISHED, (p) => this.fixFinishedEmitter.fire(p));
  }

  private updateWorkspaces(p: WorkspacesChangedParams): void {
    this._workspaces = p.workspaces;
    this._active = p.active;
    this.workspacesEmitter.fire(p);
  }

  /** The server went away without being asked to (or never came up). */
  private onCrash(generation: number, why?: string): void {
    // The library may report a failed start both by rejecting start() and via closed().
    if (generation !== this.generation || generation === this.crashedGeneration) {
      return;
    }
    this.crashedGeneration = generation;
    const client = this.client;
    this.client = undefined;
    this.progress?.clear();
    this.progress = undefined;
    if (client) {
      void client.dispose().catch(() => undefined);
    }
    const reason = why ?? `stopped unexpectedly${this.lastExit ? ` (${this.lastExit})` : ''}`;
    const delay = this.backoff.crashed(Date.now());
    if (delay === null) {
      const text = `The warden language server keeps failing: ${reason}. It stays stopped; fix the cause (see the logs) and run "Warden: Restart Server".`;
      this.log.error(text);
      this.setState({ kind: 'stopped', reason: text });
      this.notify(text, ['Restart']);
      return;
    }
    this.log.warn(`warden ${reason}; restarting in ${delay / 1000} s (attempt ${this.backoff.streak})`);
    this.setState({ kind: 'restarting', inMs: delay, reason });
    if (this.backoff.streak === 1) {
      this.notify(`The warden language server ${reason}. Restarting it, with backoff while it keeps failing.`, []);
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.start();
    }, delay);
  }

  /** One error notification at a time, always with Show logs. */
  private notify(text: string, extra: string[]): void {
    if (this.notifying) {
      return;
    }
    this.notifying = true;
    void vscode.window.showErrorMessage(text, 'Show logs', ...extra).then((choice) => {
      this.notifying = false;
      if (choice === 'Show logs') {
        this.log.show(true);
      } else if (choice === 'Open Settings') {
        void openSetting('warden.server.path');
      } else if (choice === 'Restart') {
        void this.restart();
      }
    });
  }

  async stop(): Promise<void> {
    this.generation++;
    this.clearRestartTimer();
    const client = this.client;
    this.client = undefined;
    this.progress?.clear();
    this.progress = undefined;
    if (client) {
      try {
        if (client.state === State.Running || client.state === State.Starting) {
          await client.stop(5000);
        }
      } catch (err) {
        this.log.warn(`stopping the server: ${message(err)}`);
      }
      await client.dispose().catch(() => undefined);
    }
    this.setState({ kind: 'stopped', reason: 'stopped' });
  }

  /** The one restart entry point: stops, forgets the crash streak, starts. */
  async restart(): Promise<void> {
    this.log.info('restarting the server');
    await this.stop();
    this.backoff.reset();
    await this.start();
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
  }

  private onConfigChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration('warden')) {
      return;
    }
    if (e.affectsConfiguration('warden.server.path')) {
      this.log.info('warden.server.path changed; restarting');
      void this.restart();
      return;
    }
    const client = this.client;
    if (client && this._state.kind === 'running') {
      this.log.info('settings changed; telling the server');
      // The server answers by pulling the section through workspace/configuration.
      void client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { warden: serverSection(this.keys) },
      });
    }
    if (RESTART_KEYS.some((k) => e.affectsConfiguration(`warden.${k}`))) {
      void vscode.window
        .showInformationMessage('warden reads this setting at start-up. Restart the server now?', 'Restart')
        .then((c) => (c === 'Restart' ? this.restart() : undefined));
    }
  }

  private running(): WardenClient {
    const client = this.client;
    if (!client || this._state.kind !== 'running') {
      const why =
        this._state.kind === 'starting'
          ? 'it is still starting'
          : 'reason' in this._state
            ? this._state.reason
            : 'it is not running';
      throw new NotRunningError(`The warden language server is not available: ${why}`);
    }
    return client;
  }

  /** Throws NotRunningError (saying why) unless the server is running. */
  ensureRunning(): void {
    this.running();
  }

  async request<R extends ServerRequest>(
    method: R,
    params: ServerRequests[R]['params'],
    token?: vscode.CancellationToken,
  ): Promise<ServerRequests[R]['result']> {
    const client = this.running();
    // An explicit `undefined` token would be sent as a second positional parameter.
    return (token ? client.sendRequest(method, params, token) : client.sendRequest(method, params)) as Promise<
      ServerRequests[R]['result']
    >;
  }

  async command<C extends ServerCommand>(
    command: C,
    args: ServerCommands[C]['args'],
  ): Promise<ServerCommands[C]['result']> {
    const client = this.running();
    return client.sendRequest(ExecuteCommandRequest.type, {
      command,
      arguments: [args],
    }) as Promise<ServerCommands[C]['result']>;
  }

  /** A VS Code diagnostic (of any source) as the LSP `Diagnostic` the server takes. */
  protocolDiagnostic(d: vscode.Diagnostic): unknown {
    return this.running().code2ProtocolConverter.asDiagnostic(d);
  }

  /** Asks the server for the workspaces again (the view's refresh button). */
  async refreshWorkspaces(): Promise<void> {
    const workspaces = await this.request(REQ_WORKSPACES, {});
    this.updateWorkspaces({ workspaces, active: workspaces.find((w) => w.active)?.name ?? this._active });
  }

  /** The running server's progress tracker (the scan command follows its task). */
  get progressTracker(): ProgressTracker | undefined {
    return this.progress;
  }

  dispose(): void {
    this.clearRestartTimer();
    this.disposables.forEach((d) => d.dispose());
  }
}

function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) {
      return false;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function message(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}
