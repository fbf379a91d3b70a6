// *Warden: Show Status*: gathers what decides whether warden can do its work here, with
// what the server and its CLI already offer (no server changes): the server's state and
// version, the database file, the advisory data per ecosystem with when it was last made
// current and where it comes from (`warden db stats --json`, as Neovim's `:checkhealth
// warden` does), the ecosystems of the workspace's manifests, how downloads are set up
// (`WARDEN_OFFLINE`, `warden.packages.update`, the mirror), the Docker engine and the
// runner images (`docker version`, `docker image inspect`), whether the LLM provider's
// base URL answers (`GET <baseUrl>/models`, any HTTP answer counts; nothing is sent to a
// model), the LLM gateway of each open workspace (`warden/gateway`) with whether terminals
// use it and the budgets, the span export to an OpenTelemetry backend (`warden/telemetry`:
// where, exported, dropped, failing), and the trust state of each `.warden.toml` and the
// engine each workspace's runs go to (`warden/configTrust`). The report
// (statusModel.ts) opens as a Markdown preview of a `warden-status:` document.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ecosystemsInWorkspace } from './advisories.ts';
import { effectiveMirror, isOffline } from './advisoriesModel.ts';
import { type Ctx, message } from './ctx.ts';
import { budgetLines, type TerminalsState, terminalsLine } from './gatewayModel.ts';
import { REQ_CONFIG_TRUST, REQ_GATEWAY, REQ_TELEMETRY } from './lsp_ext.ts';
import { resolveServer } from './serverPath.ts';
import { type AdvisoryRow, advisoryRow, BUILTIN_PROVIDERS, type StatusReport, statusMarkdown } from './statusModel.ts';

export const STATUS_SCHEME = 'warden-status';
export const STATUS_URI = vscode.Uri.from({ scheme: STATUS_SCHEME, path: '/warden status.md' });
const DEFAULT_IMAGES = ['warden-runner-python:bookworm', 'warden-runner-node:bookworm'];

function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error((stderr || err.message).trim().split('\n')[0]));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** The database the server opens: `WARDEN_DB`, else `warden.database.path`, else the default. */
function databasePath(): { path: string; source: string } {
  if (process.env.WARDEN_DB) {
    return { path: process.env.WARDEN_DB, source: 'WARDEN_DB' };
  }
  const setting = vscode.workspace.getConfiguration('warden').get<string>('database.path');
  if (setting) {
    return { path: setting.replace(/^~(?=\/)/, os.homedir()), source: 'warden.database.path' };
  }
  const data = process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local/share');
  return { path: path.join(data, 'warden/warden.db'), source: 'default' };
}

function serverBinary(ctx: Ctx): string | undefined {
  if (ctx.state.kind === 'running') {
    return ctx.state.path;
  }
  const found = resolveServer({
    setting: vscode.workspace.getConfiguration('warden').get<string | null>('server.path'),
    bundled: path.join(ctx.extension.extensionPath, 'server', process.platform === 'win32' ? 'warden.exe' : 'warden'),
    pathEnv: process.env.PATH,
    home: os.homedir(),
    baseDir: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    isExecutable: (f) => {
      try {
        fs.accessSync(f, fs.constants.X_OK);
        return fs.statSync(f).isFile();
      } catch {
        return false;
      }
    },
    exeSuffix: process.platform === 'win32' ? '.exe' : '',
  });
  return found.ok ? found.path : undefined;
}

async function llmReach(baseUrl: string): Promise<{ reachable: boolean; detail: string }> {
  try {
    const res = await fetch(`${baseUrl.replace(/\/$/, '')}/models`, { signal: AbortSignal.timeout(4000) });
    return { reachable: true, detail: `HTTP ${res.status}${res.status === 401 || res.status === 403 ? ': the API key is missing or refused' : ''}` };
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { reachable: false, detail: `does not answer (${cause?.code ?? cause?.message ?? message(err)})` };
  }
}

/** `warden db stats --json`: what is loaded per ecosystem, since when, from where. */
async function readAdvisoryRows(binary: string, db: string): Promise<AdvisoryRow[]> {
  const out = await run(binary, ['--db', db, 'db', 'stats', '--json']);
  return out
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => advisoryRow(JSON.parse(l) as Record<string, unknown>));
}

/** The advisory data per ecosystem of the database the server uses. */
export async function advisoryRows(ctx: Ctx): Promise<AdvisoryRow[]> {
  const binary = serverBinary(ctx);
  if (!binary) {
    throw new Error('no warden binary to ask');
  }
  return readAdvisoryRows(binary, databasePath().path);
}

export async function gatherStatus(ctx: Ctx, terminals?: () => TerminalsState): Promise<StatusReport> {
  const config = vscode.workspace.getConfiguration('warden');
  const s = ctx.state;
  const db = databasePath();
  let bytes: number | undefined;
  try {
    bytes = fs.statSync(db.path).size;
  } catch {
    bytes = undefined;
  }
  const report: StatusReport = {
    extensionVersion: String(ctx.extension.extension.packageJSON.version ?? ''),
    server: {
      state: s.kind,
      path: s.kind === 'running' ? s.path : undefined,
      version: s.kind === 'running' ? s.version : undefined,
      detail: 'reason' in s ? s.reason : undefined,
    },
    database: { ...db, exists: bytes !== undefined, bytes },
    advisories: {
      rows: [],
      osvPaths: config.get<string[]>('packages.osvPaths') ?? [],
      downloads: {
        offline: isOffline(process.env.WARDEN_OFFLINE),
        update: config.get<boolean>('packages.update') ?? true,
        updateHours: config.get<number>('packages.updateHours') ?? 24,
        ...(({ url, source }) => ({ mirror: url, mirrorSource: source }))(
          effectiveMirror(config.get<string>('packages.osvMirror'), process.env.WARDEN_OSV_MIRROR),
        ),
      },
    },
    docker: { images: [] },
    llm: { provider: '', model: null, baseUrl: null, reachable: null, detail: '' },
    trust: { roots: [] },
  };

  const binary = serverBinary(ctx);
  const advisories = (async () => {
    try {
      report.advisories.used = [...(await ecosystemsInWorkspace())];
    } catch {
      // no folder open, or the search failed: nothing to flag as missing
    }
    if (!binary) {
      report.advisories.error = 'no warden binary to ask';
      return;
    }
    try {
      report.advisories.rows = await readAdvisoryRows(binary, db.path);
    } catch (err) {
      report.advisories.error = message(err);
    }
  })();

  const docker = (async () => {
    try {
      report.docker.version = (await run('docker', ['version', '--format', '{{.Server.Version}}'])).trim();
    } catch (err) {
      report.docker.error = message(err);
    }
    const runners = config.get<{ image?: string }[] | null>('run.runners');
    const images = Array.isArray(runners) ? [...new Set(runners.map((r) => r.image).filter((i): i is string => !!i))] : DEFAULT_IMAGES;
    report.docker.images = await Promise.all(
      images.map(async (image) => ({
        image,
        present: report.docker.error ? false : await run('docker', ['image', 'inspect', '--format', '{{.Id}}', image]).then(() => true, () => false),
      })),
    );
  })();

  const llm = (async () => {
    const provider = config.get<string>('llm.provider') || 'ollama';
    const providers = config.get<Record<string, { baseUrl?: string; model?: string }>>('llm.providers') ?? {};
    const own = providers[provider];
    report.llm.provider = provider;
    report.llm.model = config.get<string>('llm.model') || own?.model || null;
    report.llm.baseUrl = own?.baseUrl ?? BUILTIN_PROVIDERS[provider] ?? null;
    if (report.llm.baseUrl) {
      Object.assign(report.llm, await llmReach(report.llm.baseUrl));
    }
  })();

  const trust = (async () => {
    try {
      const { roots } = await ctx.request(REQ_CONFIG_TRUST, {});
      report.trust.roots = roots.map((r) => ({ root: r.root, file: r.file, trusted: r.trusted, held: r.held.map((h) => h.key), engine: r.engine }));
    } catch (err) {
      report.trust.error = message(err);
    }
  })();

  const gateway = (async () => {
    if (ctx.state.kind !== 'running') {
      return;
    }
    const g: NonNullable<StatusReport['gateway']> = {
      workspaces: [],
      terminals: terminalsLine(terminals?.() ?? { kind: 'unavailable', reason: 'unknown' }),
      budgets: budgetLines(config.get('llm.budget.dailyUsd'), config.get('llm.budget.requestTokens')),
    };
    for (const w of ctx.workspaces.filter((w) => w.open && w.root)) {
      try {
        const answer = await ctx.request(REQ_GATEWAY, { workspace: w.name });
        g.workspaces.push({ workspace: answer.workspace, baseUrl: answer.baseUrl, openaiBaseUrl: answer.openaiBaseUrl });
      } catch (err) {
        g.error = message(err);
        break; // the same reason for every workspace
      }
    }
    report.gateway = g;
  })();

  const telemetry = (async () => {
    if (ctx.state.kind !== 'running') {
      return;
    }
    try {
      report.telemetry = await ctx.request(REQ_TELEMETRY, {});
    } catch (err) {
      report.telemetry = { error: message(err) };
    }
  })();

  await Promise.all([advisories, docker, llm, trust, gateway, telemetry]);
  return report;
}

/** The `warden-status:` document: the report, gathered again each time it is opened. */
export class StatusDocs implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly ctx: Ctx;
  private readonly terminals: (() => TerminalsState) | undefined;

  constructor(ctx: Ctx, terminals?: () => TerminalsState) {
    this.ctx = ctx;
    this.terminals = terminals;
  }

  async provideTextDocumentContent(): Promise<string> {
    return statusMarkdown(await gatherStatus(this.ctx, this.terminals));
  }

  /** The advisory data per ecosystem (for *Download Advisories Now*'s choices). */
  advisoryRows(): Promise<AdvisoryRow[]> {
    return advisoryRows(this.ctx);
  }

  /** Gathers the facts again and shows them as a Markdown preview. */
  async show(): Promise<void> {
    this.emitter.fire(STATUS_URI);
    await vscode.workspace.openTextDocument(STATUS_URI);
    await vscode.commands.executeCommand('markdown.showPreview', STATUS_URI);
  }

  dispose(): void {
    this.emitter.dispose();
  }
}
