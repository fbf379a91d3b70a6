// Which contributed settings belong to the server, and the `warden` section the server
// receives (in `initializationOptions` and through `workspace/configuration`): built from
// the keys the extension contributes in package.json, minus the keys only the extension
// reads, with unset values (null, "") left out so the server uses its defaults. Pure.

/** Settings the extension itself reads; the server would reject them as unknown. */
export const EXTENSION_ONLY_KEYS: readonly string[] = ['server.path', 'trace.server', 'run.codeLens'];

/** Settings the server reads only at start-up: changing them needs a restart. */
export const RESTART_KEYS: readonly string[] = ['database.path'];

/** Server keys (`trace.live`, ...) from package.json's `contributes.configuration`. */
export function serverKeys(packageJson: unknown): string[] {
  const keys: string[] = [];
  for (const name of Object.keys(contributedProperties(packageJson))) {
    if (!name.startsWith('warden.')) {
      continue;
    }
    const key = name.slice('warden.'.length);
    if (!EXTENSION_ONLY_KEYS.includes(key)) {
      keys.push(key);
    }
  }
  return keys.sort();
}

/** `contributes.configuration.properties`, whether configuration is an object or a list. */
export function contributedProperties(packageJson: unknown): Record<string, ContributedSetting> {
  const contributes = (packageJson as { contributes?: { configuration?: unknown } })?.contributes;
  const config = contributes?.configuration;
  const sections = Array.isArray(config) ? config : config ? [config] : [];
  const out: Record<string, ContributedSetting> = {};
  for (const section of sections) {
    Object.assign(out, (section as { properties?: Record<string, ContributedSetting> }).properties ?? {});
  }
  return out;
}

export interface ContributedSetting {
  type?: string | string[];
  default?: unknown;
  items?: { type?: string };
  description?: string;
  markdownDescription?: string;
  scope?: string;
}

/**
 * The nested section the server expects (`{trace: {live: true}, ...}`) from dotted keys and
 * a getter (VS Code's `WorkspaceConfiguration.get`).
 */
export function toServerSection(
  keys: readonly string[],
  get: (key: string) => unknown,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = get(key);
    // VS Code's convention for an unset string setting is "" (the Settings editor cannot
    // edit a string-or-null setting); the server's is to leave the key out.
    if (value === undefined || value === null || value === '') {
      continue;
    }
    const parts = key.split('.');
    let node = out;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        node[part] = {};
      }
      node = node[part] as Record<string, unknown>;
    }
    node[parts[parts.length - 1]] = value;
  }
  return out;
}
