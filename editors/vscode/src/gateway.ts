// The LLM gateway in VS Code: the terminals of each workspace folder get the gateway's
// variables (`OPENAI_BASE_URL`, `OPENAI_API_KEY`, `ANTHROPIC_BASE_URL`,
// `ANTHROPIC_API_KEY`) through the extension's environment variable collection, scoped
// to the folder, with a description naming the workspace. The folder's workspace comes
// from `warden/workspaceFor`, the values from `warden/gateway {workspace}`; they are
// filled when the server is running, again when folders, workspaces or
// `warden.gateway.terminals` change, and cleared while the server is down (the token
// changes with every server run, so nothing persists). The first time, the user is
// asked once (Yes / Not now, remembered). Also the commands *Warden: LLM Gateway…* (a
// quick pick: the gateway's calls in the trace viewer, terminals on or off, the
// variables for another shell, the settings) and *Warden: Show LLM Gateway Calls*.
// The decisions are pure (gatewayModel.ts).

import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { message } from './ctx.ts';
import {
  collectionDescription,
  shellExports,
  TERMINALS_ANSWER_KEY,
  type TerminalsAnswer,
  terminalsDecision,
  type TerminalsState,
  terminalVariables,
} from './gatewayModel.ts';
import { type GatewayResult, REQ_GATEWAY, REQ_WORKSPACE_FOR } from './lsp_ext.ts';
import type { TraceViewer } from './traceViewer.ts';

export const CMD_GATEWAY_MENU = 'warden.gateway.menu';
export const CMD_GATEWAY_CALLS = 'warden.gateway.showCalls';

export const QUESTION = "Send the AI tools you run in this workspace's terminals through warden's gateway?";

/** The gateway starts just after `initialized`: a request at once may find it not listening yet. */
const STARTUP_RETRIES = 5;
const RETRY_MS = 400;

export class GatewayTerminals implements vscode.Disposable {
  private readonly ctx: Ctx;
  private readonly extension: vscode.ExtensionContext;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<TerminalsState>();
  readonly onDidChange = this.changed.event;
  private _state: TerminalsState = { kind: 'unavailable', reason: 'warden is not running' };
  /** Folders whose scoped collection holds the variables. */
  private filled = new Map<string, vscode.WorkspaceFolder>();
  /** The gateway per workspace, as last answered (for *Copy variables*). */
  private answers = new Map<string, GatewayResult>();
  private seq = 0;
  private asked = false;
  private question: Thenable<unknown> | undefined;
  private workspaceKey = '';

  constructor(ctx: Ctx, extension: vscode.ExtensionContext) {
    this.ctx = ctx;
    this.extension = extension;
    // The token is only valid while this server runs.
    extension.environmentVariableCollection.persistent = false;
    this.disposables.push(
      this.changed,
      ctx.onDidChangeState((s) => {
        if (s.kind === 'running') {
          void this.refresh();
        } else {
          this.seq++;
          this.clear();
          this.answers.clear();
          this.setState({ kind: 'unavailable', reason: 'warden is not running' });
        }
      }),
      ctx.onDidChangeWorkspaces((p) => {
        // A rename changes the URLs; other changes (activation, prompts) do not.
        const key = p.workspaces
          .filter((w) => w.open)
          .map((w) => `${w.name}\0${w.root}`)
          .sort()
          .join('\n');
        if (key !== this.workspaceKey) {
          this.workspaceKey = key;
          void this.refresh();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.refresh()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('warden.gateway.terminals')) {
          void this.refresh();
        }
      }),
    );
  }

  get state(): TerminalsState {
    return this._state;
  }

  /** The gateway of each workspace with an open folder, as last answered. */
  get gateways(): readonly GatewayResult[] {
    return [...this.answers.values()];
  }

  private setState(state: TerminalsState): void {
    this._state = state;
    this.changed.fire(state);
  }

  /** Asks the server again and fills (or clears) the folders' collections. */
  async refresh(): Promise<void> {
    const seq = ++this.seq;
    if (this.ctx.state.kind !== 'running') {
      return;
    }
    const folders = vscode.workspace.workspaceFolders ?? [];
    const found: { folder: vscode.WorkspaceFolder; gateway: GatewayResult }[] = [];
    let failure = '';
    for (const folder of folders) {
      try {
        const ws = await this.ctx.request(REQ_WORKSPACE_FOR, { uri: folder.uri.toString() });
        const gateway = await this.gatewayOf(ws.name, seq);
        found.push({ folder, gateway });
      } catch (err) {
        failure = message(err);
        this.ctx.log.warn(`the LLM gateway for ${folder.name}: ${failure}`);
        if (/not running/.test(failure)) {
          break; // off, or it could not listen: the same for every folder
        }
      }
      if (seq !== this.seq) {
        return; // a newer refresh (or a stop) took over
      }
    }
    if (seq !== this.seq) {
      return;
    }
    this.answers = new Map(found.map((f) => [f.gateway.workspace, f.gateway]));
    if (folders.length > 0 && found.length === 0) {
      this.clear();
      this.setState({ kind: 'unavailable', reason: failure || 'the gateway did not answer' });
      return;
    }
    const decision = this.decision();
    if (decision === 'ask') {
      this.ask(found.map((f) => f.gateway.workspace));
      this.clear();
      this.setState({ kind: 'off', why: 'undecided' });
      return;
    }
    if (decision === 'off') {
      this.clear();
      this.setState({ kind: 'off', why: this.setting().value ? (this.answer() === 'notNow' ? 'declined' : 'undecided') : 'setting' });
      return;
    }
    const keep = new Set<string>();
    const workspaces: string[] = [];
    for (const { folder, gateway } of found) {
      // A folder's own settings may turn its terminals off.
      if (vscode.workspace.getConfiguration('warden', folder.uri).get<boolean>('gateway.terminals') === false) {
        continue;
      }
      const collection = this.extension.environmentVariableCollection.getScoped({ workspaceFolder: folder });
      collection.persistent = false;
      collection.description = collectionDescription(gateway.workspace);
      for (const [name, value] of terminalVariables(gateway)) {
        collection.replace(name, value);
      }
      keep.add(folder.uri.toString());
      this.filled.set(folder.uri.toString(), folder);
      if (!workspaces.includes(gateway.workspace)) {
        workspaces.push(gateway.workspace);
      }
    }
    for (const [key, folder] of this.filled) {
      if (!keep.has(key)) {
        this.extension.environmentVariableCollection.getScoped({ workspaceFolder: folder }).clear();
        this.filled.delete(key);
      }
    }
    this.ctx.log.info(`terminals of ${workspaces.join(', ') || 'no folder'} use the LLM gateway`);
    this.setState({ kind: 'on', workspaces });
  }

  /** `warden/gateway`, retried while the gateway is still starting. */
  private async gatewayOf(workspace: string, seq: number): Promise<GatewayResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.ctx.request(REQ_GATEWAY, { workspace });
      } catch (err) {
        if (attempt >= STARTUP_RETRIES || seq !== this.seq || !/not running/.test(message(err))) {
          throw err;
        }
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  }

  private setting(): { value: boolean; explicit: boolean } {
    const config = vscode.workspace.getConfiguration('warden');
    const info = config.inspect<boolean>('gateway.terminals');
    const explicit = [info?.globalValue, info?.workspaceValue, info?.workspaceFolderValue].some((v) => v !== undefined);
    return { value: config.get<boolean>('gateway.terminals') !== false, explicit };
  }

  private answer(): TerminalsAnswer | undefined {
    return this.extension.globalState.get<TerminalsAnswer>(TERMINALS_ANSWER_KEY);
  }

  private decision(): 'on' | 'off' | 'ask' {
    return terminalsDecision(this.setting(), this.answer(), this.asked);
  }

  /** The first-time question, once per window; the answer is remembered. */
  private ask(workspaces: string[]): void {
    if (this.question) {
      return;
    }
    this.asked = true;
    const detail = workspaces.length ? ` (${workspaces.join(', ')})` : '';
    this.question = vscode.window
      .showInformationMessage(
        `${QUESTION} New terminals${detail} get OPENAI_BASE_URL, OPENAI_API_KEY, ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY pointing at warden, which redacts secrets, enforces budgets and traces every call.`,
        'Yes',
        'Not now',
      )
      .then(async (choice) => {
        this.question = undefined;
        if (choice === 'Yes' || choice === 'Not now') {
          await this.choose(choice === 'Yes' ? 'yes' : 'notNow');
        }
      });
  }

  /** Records the user's choice (the menu's on/off entries too) and applies it. */
  async choose(answer: TerminalsAnswer): Promise<void> {
    await this.extension.globalState.update(TERMINALS_ANSWER_KEY, answer);
    await this.refresh();
  }

  private clear(): void {
    for (const folder of this.filled.values()) {
      this.extension.environmentVariableCollection.getScoped({ workspaceFolder: folder }).clear();
    }
    this.filled.clear();
  }

  dispose(): void {
    this.seq++;
    this.clear();
    this.disposables.forEach((d) => d.dispose());
  }
}

/** *Warden: LLM Gateway…* and *Warden: Show LLM Gateway Calls*. */
export function registerGatewayCommands(
  ctx: Ctx,
  traces: TraceViewer,
  terminals: GatewayTerminals,
  /** The menu or the calls were opened (the status bar item's warning has been seen). */
  onSeen: () => void,
): vscode.Disposable[] {
  const showCalls = (): void => {
    onSeen();
    traces.show({ origin: 'gateway' });
  };
  return [
    vscode.commands.registerCommand(CMD_GATEWAY_CALLS, showCalls),
    vscode.commands.registerCommand(CMD_GATEWAY_MENU, async () => {
      onSeen();
      type Item = vscode.QuickPickItem & { run: () => unknown };
      const state = terminals.state;
      const items: Item[] = [{ label: '$(pulse) Show the gateway calls', detail: 'The trace viewer, filtered to calls through the gateway', run: showCalls }];
      if (state.kind === 'on') {
        items.push({
          label: '$(circle-slash) Stop using the gateway in terminals',
          detail: `New terminals of ${state.workspaces.join(', ')} no longer get the variables`,
          run: () => terminals.choose('notNow'),
        });
      } else if (state.kind === 'off' && state.why !== 'setting') {
        items.push({
          label: '$(terminal) Use the gateway in terminals',
          detail: 'New terminals of each workspace folder get OPENAI_BASE_URL, OPENAI_API_KEY, ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY',
          run: () => terminals.choose('yes'),
        });
      }
      for (const g of terminals.gateways) {
        items.push({
          label: `$(copy) Copy the variables of ${g.workspace}`,
          detail: `export lines for a shell outside VS Code (${g.baseUrl}; valid while this server runs)`,
          run: async () => {
            await vscode.env.clipboard.writeText(`${shellExports(terminalVariables(g))}\n`);
            vscode.window.setStatusBarMessage(`warden: the gateway variables of ${g.workspace} are on the clipboard`, 4000);
          },
        });
      }
      items.push({
        label: '$(gear) Gateway and budget settings',
        // Both the gateway's and the budget settings mention the gateway.
        run: () => vscode.commands.executeCommand('workbench.action.openSettings', '@ext:warden.warden gateway'),
      });
      if (state.kind === 'unavailable') {
        items.unshift({ label: `$(warning) ${state.reason}`, run: () => ctx.log.show(true) });
      }
      const picked = await vscode.window.showQuickPick(items, { title: 'warden LLM gateway', placeHolder: 'What to do' });
      await picked?.run();
    }),
  ];
}
