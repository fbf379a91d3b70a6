// *Warden: Show Status*, the pure part: the facts gathered by status.ts (server, database,
// advisory data per ecosystem with when it was last made current and where it comes
// from, Docker engine and runner images, the engine each workspace's runs go to, LLM
// provider reachability, the LLM gateway per workspace with whether terminals use it and
// the budgets, span export to an OpenTelemetry backend, `.warden.toml` trust)
// as one Markdown report, each section with a verdict (✓ ok, ⚠ warning, ✗ error) and what
// to do about it, like Neovim's `:checkhealth warden`. Missing data for an ecosystem the
// workspace uses, and data older than 7 days, are flagged with the way to fix them.

import { ago, type Ecosystem, ECOSYSTEMS, isStale, STALE_DAYS, withoutCredentials } from './advisoriesModel.ts';
import type { EngineInfo, TelemetryResult } from './lsp_ext.ts';

export type Verdict = 'ok' | 'warn' | 'error' | 'info';

export interface AdvisoryRow {
  ecosystem: string;
  advisories: number;
  malicious: number;
  packages: number;
  /** The newest record's modification time (RFC 3339), when known. */
  newest: string | null;
  /** When the data was last downloaded, checked against its mirror or imported (RFC 3339). */
  currentAsOf: string | null;
  /** The mirror it is downloaded from (no credentials); null: imported files. */
  mirror: string | null;
}

/** How the server gets advisory data here. */
export interface AdvisoryDownloads {
  /** `WARDEN_OFFLINE` is set: nothing is downloaded. */
  offline: boolean;
  /** `warden.packages.update`. */
  update: boolean;
  updateHours: number;
  /** The mirror downloads come from (credentials removed) and what chose it. */
  mirror: string;
  mirrorSource: string;
}

export interface StatusReport {
  extensionVersion: string;
  server: { state: string; path?: string; version?: string; detail?: string };
  database: { path: string; source: string; exists: boolean; bytes?: number };
  advisories: {
    rows: AdvisoryRow[];
    error?: string;
    osvPaths: string[];
    /** Ecosystems of the manifests in the workspace folders. */
    used?: Ecosystem[];
    downloads?: AdvisoryDownloads;
  };
  docker: { version?: string; error?: string; images: { image: string; present: boolean }[] };
  llm: { provider: string; model: string | null; baseUrl: string | null; reachable: boolean | null; detail: string };
  /** The LLM gateway (`warden/gateway` per open workspace); absent while the server is down. */
  gateway?: {
    workspaces: { workspace: string; baseUrl: string; openaiBaseUrl: string }[];
    error?: string;
    /** Whether terminals use it (gatewayModel.ts's `terminalsLine`). */
    terminals: string;
    /** `warden.llm.budget.*` (gatewayModel.ts's `budgetLines`). */
    budgets: string[];
  };
  trust: { roots: { root: string; file: string | null; trusted: boolean; held: string[]; engine?: EngineInfo }[]; error?: string };
  /** Span export over OTLP (`warden/telemetry`); absent while the server is down. */
  telemetry?: TelemetryResult | { error: string };
}

// Plain symbols (not emoji): they render in every editor font, and each line says it in words too.
const MARK: Record<Verdict, string> = { ok: '✓', warn: '⚠', error: '✗', info: 'ℹ' };

function line(v: Verdict, text: string): string {
  return `- ${MARK[v]} ${text}`;
}

/** `3 days old`, `today`, `5 months old` from an RFC 3339 time. */
export function age(iso: string | null, now = Date.now()): string {
  if (!iso) {
    return 'age unknown';
  }
  const t = Date.parse(iso);
  // Records without a date carry the epoch or year 1 (`0001-01-01T00:00:00Z`).
  if (Number.isNaN(t) || t <= 0) {
    return 'age unknown';
  }
  const days = Math.floor(Math.max(0, now - t) / 86_400_000);
  if (days === 0) return 'from today';
  if (days < 60) return `${days} ${days === 1 ? 'day' : 'days'} old`;
  if (days < 730) return `${Math.round(days / 30)} months old`;
  return `${Math.round(days / 365)} years old`;
}

export function statusMarkdown(r: StatusReport, now = Date.now()): string {
  const out: string[] = ['# warden status', '', `Extension ${r.extensionVersion}, checked ${new Date(now).toISOString()}.`, ''];

  out.push('## Server', '');
  if (r.server.state === 'running') {
    out.push(line('ok', `running: warden ${r.server.version ?? '(version unknown)'} at \`${r.server.path ?? '?'}\``));
  } else if (r.server.state === 'missing') {
    out.push(line('error', `not found: ${r.server.detail ?? ''} Set \`warden.server.path\` (*Warden: Set Server Path…*) or put \`warden\` on PATH.`));
  } else {
    out.push(line('error', `${r.server.state}${r.server.detail ? `: ${r.server.detail}` : ''}. Run *Warden: Restart Server*; *Warden: Show Logs* says why.`));
  }

  out.push('', '## Database', '');
  out.push(
    r.database.exists
      ? line('ok', `\`${r.database.path}\` (${r.database.source}), ${formatSize(r.database.bytes ?? 0)}`)
      : line('warn', `\`${r.database.path}\` (${r.database.source}) does not exist yet; the server creates it when it starts.`),
  );

  out.push('', '## Advisory data (vulnerable and malicious packages)', '');
  out.push(...advisoryLines(r.advisories, now));

  out.push('', '## Docker engine (sandboxed runs)', '');
  if (r.docker.error) {
    out.push(line('warn', `no engine: ${r.docker.error}. Runs need a Docker engine (Debian: \`apt-get install docker.io\`, or set \`DOCKER_HOST\`).`));
  } else {
    out.push(line('ok', `engine ${r.docker.version}`));
  }
  for (const img of r.docker.images) {
    out.push(
      img.present
        ? line('ok', `runner image \`${img.image}\``)
        : line('warn', `runner image \`${img.image}\` is missing (warden never pulls): build it (scripts/docker-setup.sh) or change \`warden.run.runners\``),
    );
  }

  out.push('', '## LLM', '');
  if (!r.llm.model) {
    out.push(line('warn', `provider \`${r.llm.provider}\`, no model: the LLM actions cannot run. *Warden: Configure LLM…* sets \`warden.llm.model\`.`));
  } else {
    out.push(line('ok', `provider \`${r.llm.provider}\`, model \`${r.llm.model}\``));
  }
  if (r.llm.baseUrl) {
    out.push(
      r.llm.reachable
        ? line('ok', `\`${r.llm.baseUrl}\` answers (${r.llm.detail})`)
        : line(r.llm.reachable === null ? 'info' : 'error', `\`${r.llm.baseUrl}\`: ${r.llm.detail}`),
    );
  } else {
    out.push(line('warn', `provider \`${r.llm.provider}\` is not defined in \`warden.llm.providers\``));
  }

  if (r.gateway) {
    out.push('', '## LLM gateway (AI tools in the terminal)', '');
    const g = r.gateway;
    if (g.error) {
      out.push(line('warn', `not available: ${g.error}. \`warden.gateway.enabled\` starts it with the server (read at start-up).`));
    }
    for (const w of g.workspaces) {
      out.push(line('ok', `**${w.workspace}**: \`${w.baseUrl}\` (OpenAI SDKs: \`${w.openaiBaseUrl}\`)`));
    }
    if (!g.error) {
      out.push(line('info', g.terminals));
    }
    for (const b of g.budgets) {
      out.push(line('info', b));
    }
  }

  if (r.telemetry) {
    out.push('', '## Trace export (OpenTelemetry)', '');
    out.push(...telemetryLines(r.telemetry));
  }

  out.push('', '## Engine per workspace (`warden.run.engine`)', '');
  if (r.trust.error) {
    out.push(line('info', `unknown: ${r.trust.error}`));
  }
  for (const root of r.trust.roots) {
    if (root.engine) {
      out.push(engineLine(root.root, root.engine));
    }
  }

  out.push('', '## Repository configuration (.warden.toml)', '');
  if (r.trust.error) {
    out.push(line('info', `unknown: ${r.trust.error}`));
  } else if (r.trust.roots.length === 0) {
    out.push(line('info', 'no workspace folder is a repository root'));
  }
  for (const root of r.trust.roots) {
    if (!root.file) {
      out.push(line('info', `\`${root.root}\`: no .warden.toml`));
    } else if (root.trusted || root.held.length === 0) {
      out.push(line('ok', `\`${root.file}\`: ${root.trusted ? 'trusted' : 'nothing held back'}`));
    } else {
      out.push(line('warn', `\`${root.file}\`: not trusted, ignoring ${root.held.map((k) => `\`${k}\``).join(', ')} (*Warden: Trust Repository Configuration*)`));
    }
  }
  out.push('');
  return out.join('\n');
}

const ENGINE_SOURCE: Record<EngineInfo['source'], string> = {
  setting: '`warden.run.engine`',
  dockerHost: 'the server\'s `DOCKER_HOST`',
  default: 'the default socket',
};

/** Where a root's runs go: the engine's URL, why that one, TLS, and what answered. */
export function engineLine(root: string, e: EngineInfo): string {
  const how = [ENGINE_SOURCE[e.source] ?? e.source, ...(e.tls ? ['TLS'] : [])].join(', ');
  const state = e.connected ? `; ${e.connected} answered` : '; not contacted yet';
  return line(e.connected ? 'ok' : 'info', `\`${root}\`: runs go to \`${e.url}\` (${how}${state})`);
}

const HOW_TO_DOWNLOAD = 'Run *Warden: Download Advisories Now* (or `warden db update ECOSYSTEM` in a terminal)';

/** The advisory section: one line per ecosystem, then how data arrives here. */
function advisoryLines(a: StatusReport['advisories'], now: number): string[] {
  const out: string[] = [];
  const d = a.downloads;
  const fix = (eco: string): string =>
    d?.offline
      ? `\`WARDEN_OFFLINE\` is set, so nothing is downloaded: import OSV files (\`warden.packages.osvPaths\`, or \`warden db import PATH\`), or unset it and point \`warden.packages.osvMirror\` at a mirror this machine can reach`
      : HOW_TO_DOWNLOAD.replace('ECOSYSTEM', eco);
  if (a.error) {
    out.push(line('error', `could not read it: ${a.error}`));
  } else {
    for (const row of a.rows) {
      const source = row.mirror ? `downloaded from \`${row.mirror}\`` : 'imported files';
      const counts = `${row.advisories} advisories (${row.malicious} malicious) on ${row.packages} packages`;
      const newest = `newest record ${age(row.newest, now)}`;
      if (!row.currentAsOf) {
        out.push(line('info', `**${row.ecosystem}**: ${counts} (${source}), ${newest}; when it was last made current is unknown`));
      } else if (isStale(row.currentAsOf, now)) {
        out.push(
          line(
            'warn',
            `**${row.ecosystem}**: ${counts}, last made current ${ago(row.currentAsOf, now)} (${source}), older than ${STALE_DAYS} days: packages flagged since then are not known here. ${fix(row.ecosystem)}.`,
          ),
        );
      } else {
        out.push(line('ok', `**${row.ecosystem}**: ${counts}, current as of ${ago(row.currentAsOf, now)} (${source}), ${newest}`));
      }
    }
    const have = new Set(a.rows.map((r) => r.ecosystem));
    for (const eco of ECOSYSTEMS) {
      if ((a.used ?? []).includes(eco) && !have.has(eco)) {
        out.push(line('warn', `**${eco}**: no advisory data, but this workspace has ${eco} manifests: their packages are not checked. ${fix(eco)}.`));
      }
    }
    if (a.rows.length === 0 && !(a.used ?? []).length) {
      out.push(
        line(
          'warn',
          'no advisories loaded yet, so there are no package findings. warden downloads the data of an ecosystem when it first sees one of its manifests (open or scanned); ' +
            `${HOW_TO_DOWNLOAD.replace('ECOSYSTEM', 'PyPI')} to get it now, or import OSV files with \`warden.packages.osvPaths\` / \`warden db import PATH\`.`,
        ),
      );
    }
  }
  if (d) {
    if (d.offline) {
      out.push(line('info', '`WARDEN_OFFLINE` is set: nothing is downloaded (advisories nor package metadata); imported files are used as they are'));
    } else if (!d.update) {
      out.push(line('info', `background downloads are off (\`warden.packages.update\`); *Warden: Download Advisories Now* downloads from \`${d.mirror}\` (${d.mirrorSource})`));
    } else {
      out.push(line('info', `kept current in the background from \`${d.mirror}\` (${d.mirrorSource}), checked when older than ${d.updateHours} h`));
    }
  }
  if (a.osvPaths.length) {
    out.push(line('info', `imported from \`warden.packages.osvPaths\`: ${a.osvPaths.map((p) => `\`${p}\``).join(', ')}`));
  }
  return out;
}

function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A `warden db stats --json` line as an AdvisoryRow (snake or camel case fields). */
export function advisoryRow(json: Record<string, unknown>): AdvisoryRow {
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
  const mirror = str(json.mirror);
  return {
    ecosystem: String(json.ecosystem ?? '?'),
    advisories: num(json.advisories),
    malicious: num(json.malicious),
    packages: num(json.packages),
    newest: str(json.newest_modified ?? json.newestModified),
    currentAsOf: str(json.current_as_of ?? json.currentAsOf),
    mirror: mirror ? withoutCredentials(mirror) : null,
  };
}

/** Built-in providers' base URLs (the server's defaults), for the reachability check. */
export const BUILTIN_PROVIDERS: Record<string, string> = {
  ollama: 'http://localhost:11434/v1',
  llamacpp: 'http://localhost:8080/v1',
  openrouter: 'https://openrouter.ai/api/v1',
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com/v1',
};

/** The trace export section: off, working, or failing with what was kept and dropped. */
export function telemetryLines(t: TelemetryResult | { error: string }): string[] {
  if ('error' in t) {
    return [line('info', `unknown: ${t.error}`)];
  }
  if (!t.endpoint) {
    return [line('info', 'off: spans stay in the database. `warden.trace.otlp.endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT` in the server\'s environment) sends them to an OpenTelemetry backend.')];
  }
  const counts = `${t.exported} spans exported, ${t.queued} queued, ${t.dropped} dropped (queue full, oldest first)`;
  const out: string[] = [];
  if (t.lastError) {
    out.push(line('warn', `\`${t.endpoint}\` is failing (${t.failures} failed ${t.failures === 1 ? 'attempt' : 'attempts'}, retried with backoff): ${t.lastError}`));
    out.push(line('info', counts));
  } else {
    out.push(line(t.dropped > 0 ? 'warn' : 'ok', `\`${t.endpoint}\`: ${counts}`));
  }
  return out;
}
