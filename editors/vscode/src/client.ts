// The language client for `warden lsp`: vscode-languageclient minus two built-in
// features the extension does itself (server commands, registered with pickers and
// present while the server is stopped; work-done progress, see progress.ts), the settings
// section filtered to the server's keys for `initializationOptions`,
// `workspace/configuration` and `workspace/didChangeConfiguration`, and crash handling
// handed to the owner (ctx.ts) instead of the library's fixed restart policy; the
// server's `workspace/applyEdit` can be taken over (the LLM edits' preview, llm.ts).

import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as vscode from 'vscode';
import {
  type ApplyWorkspaceEditParams,
  type ApplyWorkspaceEditResult,
  CloseAction,
  type CloseHandlerResult,
  type DynamicFeature,
  ErrorAction,
  type ErrorHandlerResult,
  LanguageClient,
  type LanguageClientOptions,
  ResponseError,
  RevealOutputChannelOn,
  type StaticFeature,
} from 'vscode-languageclient/node';
import * as readline from 'node:readline';
import { serverLogLine } from './serverLog.ts';
import { toServerSection } from './settings.ts';
import { userKeyVars } from './trustModel.ts';

export class WardenClient extends LanguageClient {
  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    const method = (feature as Partial<DynamicFeature<unknown>>).registrationType?.method;
    if (method === 'workspace/executeCommand') {
      // commands.ts registers every warden.* command, the client-side ones of code
      // actions (warden.worktrees.compare) included: VS Code runs a code action's command
      // from its own registry, so nothing here may forward it to the server.
      return;
    }
    const state = feature.getState();
    if (state.kind === 'window' && state.id === 'window/workDoneProgress/create') {
      return; // progress.ts
    }
    super.registerFeature(feature);
  }
}

export interface ClientSetup {
  serverPath: string;
  outputChannel: vscode.LogOutputChannel;
  traceOutputChannel: vscode.LogOutputChannel;
  /** Server keys (`trace.live`, ...) contributed by package.json. */
  serverKeys: readonly string[];
  /** Called when the server process goes away without being asked to. */
  onUnexpectedClose: () => void;
  /** Records how the process exited, for the crash message. */
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
  env?: NodeJS.ProcessEnv;
  /**
   * Takes over a `workspace/applyEdit` from the server (the LLM edits' preview); returns
   * undefined to let the library apply it as usual.
   */
  applyEdit?: (params: ApplyWorkspaceEditParams) => Promise<ApplyWorkspaceEditResult | undefined>;
}

/**
 * The `warden` section for a scope, with only the keys the server knows. Providers' key
 * variables (`apiKeyEnv`) come from the user's own settings only: a workspace's settings
 * never choose which environment variable is sent as an API key.
 */
export function serverSection(keys: readonly string[], scope?: vscode.Uri): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration('warden', scope);
  return toServerSection(keys, (key) =>
    key === 'llm.providers' ? userKeyVars(config.get(key), config.inspect(key)?.globalValue) : config.get(key),
  );
}

export function createClient(setup: ClientSetup): { client: WardenClient; isStopping: () => boolean } {
  let stopping = false;
  const serverOptions = async (): Promise<ChildProcess> => {
    const child = spawn(setup.serverPath, ['lsp'], {
      env: { WARDEN_LOG: 'info', ...process.env, ...setup.env },
      stdio: 'pipe',
    });
    child.on('exit', (code, signal) => setup.onExit(code, signal));
    // A binary that cannot be started surfaces as 'error' before any exit.
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err) => reject(err));
    });
    return child;
  };

  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    outputChannel: setup.outputChannel,
    traceOutputChannel: setup.traceOutputChannel,
    revealOutputChannelOn: RevealOutputChannelOn.Never,
    stdioOptions: {
      stdout: (input, channel) => lines(input, (l) => channel.info(l)),
      stderr: (input, channel) =>
        lines(input, (l) => {
          const { level, text } = serverLogLine(l);
          channel[level](`server: ${text}`);
        }),
    },
    initializationOptions: () => serverSection(setup.serverKeys),
    initializationFailedHandler: () => false,
    errorHandler: {
      error: (): ErrorHandlerResult => ({ action: ErrorAction.Continue, handled: true }),
      closed: (): CloseHandlerResult => {
        if (!stopping) {
          setup.onUnexpectedClose();
        }
        return { action: CloseAction.DoNotRestart, handled: true };
      },
    },
    middleware: {
      workspace: {
        // The library passes no token to `next` (its handler ignores it).
        handleApplyEdit: async (params, next) =>
          (await setup.applyEdit?.(params)) ?? next(params, new vscode.CancellationTokenSource().token),
        configuration: async (params, token, next) => {
          const defaults = await next(params, token);
          if (defaults instanceof ResponseError) {
            return defaults;
          }
          return params.items.map((item, i) =>
            item.section === 'warden'
              ? serverSection(setup.serverKeys, item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
              : (defaults as unknown[])[i],
          );
        },
      },
    },
  };

  const client = new WardenClient('warden', 'warden', serverOptions, clientOptions);
  const originalStop = client.stop.bind(client);
  client.stop = (timeout?: number) => {
    stopping = true;
    return originalStop(timeout);
  };
  return { client, isStopping: () => stopping };
}

function lines(input: NodeJS.ReadableStream, each: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on('line', each);
}
