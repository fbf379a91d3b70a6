// Advisory data, the pure part: the ecosystems warden keeps advisories for, which
// manifest names belong to which (as the server's `manifest::kind_of`), where downloads
// come from (`warden.packages.osvMirror`, else `WARDEN_OSV_MIRROR`, else the OSV
// project's export) shown without credentials, whether `WARDEN_OFFLINE` turns them off,
// how old data is in words, and the choices of *Warden: Download Advisories Now*.

/** The ecosystems the server downloads advisories for, spelled as it spells them. */
export const ECOSYSTEMS = ['PyPI', 'npm', 'crates.io', 'Go'] as const;
export type Ecosystem = (typeof ECOSYSTEMS)[number];

/** Manifests of every ecosystem (for `workspace.findFiles`). */
export const MANIFEST_GLOB = '**/{requirements*.txt,*-requirements.txt,pyproject.toml,package.json,Cargo.toml,go.mod}';
/** Folders never searched for manifests: installed packages and build output. */
export const MANIFEST_EXCLUDE = '**/{node_modules,.git,target,.venv,venv,vendor,dist,build,site-packages}/**';

/** The OSV project's public export (the server's default mirror). */
export const DEFAULT_OSV_MIRROR = 'https://osv-vulnerabilities.storage.googleapis.com';

/** Data last made current longer ago than this is stale (the server's `advisories-stale`). */
export const STALE_DAYS = 7;

const DAY_MS = 86_400_000;

/** An ecosystem name in any case (`pypi`, `CRATES.IO`), or undefined when unknown. */
export function ecosystemNamed(name: string): Ecosystem | undefined {
  const n = name.trim().toLowerCase();
  return ECOSYSTEMS.find((e) => e.toLowerCase() === n);
}

/** The ecosystem of a manifest path, by its file name; undefined for other files. */
export function ecosystemOfManifest(file: string): Ecosystem | undefined {
  const name = file.split(/[\\/]/).pop() ?? '';
  if (name === 'package.json') return 'npm';
  if (name === 'pyproject.toml') return 'PyPI';
  if (name === 'Cargo.toml') return 'crates.io';
  if (name === 'go.mod') return 'Go';
  if ((name.startsWith('requirements') && name.endsWith('.txt')) || name.endsWith('-requirements.txt')) return 'PyPI';
  return undefined;
}

/** A URL with any `user:password@` removed (what a user may read). */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1');
}

/** Whether `WARDEN_OFFLINE` asks for no network access (any value but empty and `0`). */
export function isOffline(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0';
}

/** Where downloads come from, and which setting says so (credentials removed). */
export function effectiveMirror(setting: string | undefined, env: string | undefined): { url: string; source: string } {
  const s = setting?.trim();
  if (s) {
    return { url: withoutCredentials(s.replace(/\/+$/, '')), source: '`warden.packages.osvMirror`' };
  }
  const e = env?.trim();
  if (e) {
    return { url: withoutCredentials(e.replace(/\/+$/, '')), source: '`WARDEN_OSV_MIRROR`' };
  }
  return { url: DEFAULT_OSV_MIRROR, source: "the OSV project's export" };
}

/** How long ago `iso` was, in words (`just now`, `3 hours ago`, `9 days ago`). */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : Number.NaN;
  if (Number.isNaN(t) || t <= 0) {
    return 'at an unknown time';
  }
  const ms = Math.max(0, now - t);
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} ${minutes === 1 ? 'minute' : 'minutes'} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} ${hours === 1 ? 'hour' : 'hours'} ago`;
  const days = Math.floor(ms / DAY_MS);
  return `${days} days ago`;
}

/** Whether data last made current at `iso` is older than STALE_DAYS. */
export function isStale(iso: string | null | undefined, now = Date.now()): boolean {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return !Number.isNaN(t) && t > 0 && now - t > STALE_DAYS * DAY_MS;
}

/** One row of *Download Advisories Now*'s quick pick. */
export interface EcosystemChoice {
  label: string;
  description: string;
  picked: boolean;
  ecosystem?: Ecosystem;
  /** The "download whole archives again" option instead of an ecosystem. */
  full?: boolean;
}

/**
 * The quick pick's rows: every ecosystem, those this workspace uses (its manifests, or a
 * diagnostic saying their data is missing or old) picked; then the option to download
 * whole archives again. `current` says when each ecosystem's data was last made current.
 */
export function ecosystemChoices(
  used: ReadonlySet<string>,
  current: ReadonlyMap<string, string | null>,
  now = Date.now(),
): EcosystemChoice[] {
  const rows: EcosystemChoice[] = ECOSYSTEMS.map((e) => {
    const parts: string[] = [];
    if (used.has(e)) parts.push('manifests in this workspace');
    if (current.has(e)) {
      const at = current.get(e);
      parts.push(`data from ${ago(at, now)}${isStale(at, now) ? ' (stale)' : ''}`);
    } else {
      parts.push('no data yet');
    }
    return { label: e, description: parts.join(' · '), picked: used.has(e), ecosystem: e };
  });
  rows.push({
    label: 'Download whole archives again',
    description: 'instead of only the records changed since the last download',
    picked: false,
    full: true,
  });
  return rows;
}

/** The command's arguments from the rows picked (no ecosystem: the server's default). */
export function updateArgs(picked: readonly EcosystemChoice[]): { ecosystems?: string[]; full?: boolean } {
  const ecosystems = picked.flatMap((p) => (p.ecosystem ? [p.ecosystem] : []));
  const full = picked.some((p) => p.full);
  return { ...(ecosystems.length ? { ecosystems } : {}), ...(full ? { full: true } : {}) };
}
