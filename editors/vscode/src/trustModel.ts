// Repository configuration trust, the pure part: which root a trust command is about,
// how to describe what its `.warden.toml` holds back, and the `apiKeyEnv` rule for the
// settings the extension sends (a key variable comes from the user's own settings, never
// from a workspace's `.vscode/settings.json`).

import type { ConfigTrustInfo } from './lsp_ext.ts';

/** The root owning `file` (the deepest), else the only one `wanted` accepts. */
export function pickRoot(
  roots: readonly ConfigTrustInfo[],
  file: string | undefined,
  wanted: (r: ConfigTrustInfo) => boolean,
): ConfigTrustInfo | string {
  const owner = file
    ? roots
        .filter((r) => file.startsWith(r.root.endsWith('/') ? r.root : `${r.root}/`))
        .sort((a, b) => b.root.length - a.root.length)[0]
    : undefined;
  if (owner) {
    return owner;
  }
  const candidates = roots.filter(wanted);
  if (candidates.length === 1) {
    return candidates[0];
  }
  return candidates.length === 0
    ? 'no open repository has a .warden.toml that qualifies'
    : 'several repositories qualify; run the command from a file of the one you mean';
}

/** One line per held key, for the confirmation dialog. */
export function describeHeld(info: ConfigTrustInfo): string {
  return info.held.map((h) => `${h.key}: changes ${h.reason}`).join('\n');
}

type Providers = Record<string, { apiKeyEnv?: unknown } & Record<string, unknown>>;

/**
 * `llm.providers` as the server should get it: the merged value VS Code resolved, but a
 * provider keeps `apiKeyEnv` only when the user's own (global) settings give that provider
 * the same variable. A workspace's settings may add providers or change their URL (VS Code's
 * workspace trust restricts that setting in untrusted workspaces); they never choose which
 * environment variable is sent as a key.
 */
export function userKeyVars(merged: unknown, user: unknown): unknown {
  if (typeof merged !== 'object' || merged === null || Array.isArray(merged)) {
    return merged;
  }
  const mine = (typeof user === 'object' && user !== null ? user : {}) as Providers;
  const out: Providers = {};
  for (const [name, provider] of Object.entries(merged as Providers)) {
    if (typeof provider !== 'object' || provider === null || !('apiKeyEnv' in provider)) {
      out[name] = provider;
      continue;
    }
    const { apiKeyEnv, ...rest } = provider;
    out[name] = mine[name]?.apiKeyEnv === apiKeyEnv ? provider : rest;
  }
  return out;
}
