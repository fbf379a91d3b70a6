// Which contributed settings belong to the server, and the `warden` section the server
// receives (in `initializationOptions` and through `workspace/configuration`): built from
// the keys the extension contributes in package.json, minus the keys only the extension
// reads, with unset values (null, "") left out so the server uses its defaults; whether
// the settings name an LLM model (the `warden.llmConfigured` context key that shows the
// LLM menu entries); and which settings scope to open for a key. Pure.

/** Settings the extension itself reads; the server would reject them as unknown. */
export const EXTENSION_ONLY_KEYS: readonly string[] = ['server.path', 'trace.server', 'run.codeLens', 'llm.previewEdits'];

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

/**
 * Whether the settings resolve an LLM model: `llm.model`, the chosen provider's own
 * `model`, or a mux rule. (A repository's .warden.toml can set one too; the commands
 * stay in the palette and say what is missing when the server refuses.)
 */
export function llmConfigured(get: (key: string) => unknown): boolean {
  const model = get('llm.model');
  if (typeof model === 'string' && model.trim() !== '') {
    return true;
  }
  const mux = get('llm.mux');
  if (Array.isArray(mux) && mux.length > 0) {
    return true;
  }
  const provider = get('llm.provider');
  const providers = get('llm.providers');
  if (typeof provider === 'string' && providers && typeof providers === 'object') {
    const p = (providers as Record<string, { model?: unknown } | undefined>)[provider];
    return typeof p?.model === 'string' && p.model.trim() !== '';
  }
  return false;
}

/** Where a setting is edited, from VS Code's `inspect()` and the window's kind. */
export type SettingsTarget = 'workspaceFolder' | 'workspace' | 'remote' | 'user';

/**
 * The settings tab that holds (or should hold) a setting: the most specific scope that
 * sets it; else, for machine-scoped settings in a remote window (code-server, SSH,
 * containers: the extension runs on the remote machine), the Remote tab, since the User
 * tab shows them as "not found"/not applicable there; else User.
 */
export function settingsTarget(opts: {
  workspaceFolderValue?: unknown;
  workspaceValue?: unknown;
  machineScoped: boolean;
  remote: boolean;
}): SettingsTarget {
  const set = (v: unknown): boolean => v !== undefined && v !== '';
  if (set(opts.workspaceFolderValue)) {
    return 'workspaceFolder';
  }
  if (set(opts.workspaceValue)) {
    return 'workspace';
  }
  return opts.machineScoped && opts.remote ? 'remote' : 'user';
}
