// Pure helpers for workspace pickers, the workspaces view and the status bar: which
// workspaces each command accepts, how a workspace is described, client-side checks of
// new names and prompts (the server checks again), and the URIs of prompt editor tabs.

import type { PromptSource, WorkspaceInfo } from './lsp_ext.ts';

export type WorkspaceAction =
  | 'activate'
  | 'rename'
  | 'archive'
  | 'restore'
  | 'delete'
  | 'scan'
  | 'prompt';

export const DEFAULT_WORKSPACE = 'default';
export const MAX_NAME_CHARS = 64;
export const MAX_PROMPT_CHARS = 16_000;

/** The workspaces a command can act on, in the server's order (`default` first). */
export function candidates(action: WorkspaceAction, all: readonly WorkspaceInfo[]): WorkspaceInfo[] {
  return all.filter((w) => {
    switch (action) {
      case 'activate':
        return !w.archived;
      case 'rename':
        return w.name !== DEFAULT_WORKSPACE;
      case 'archive':
        return !w.archived && w.name !== DEFAULT_WORKSPACE;
      case 'restore':
        return w.archived;
      case 'delete':
        return w.name !== DEFAULT_WORKSPACE && !w.open;
      case 'scan':
        return w.root !== null && !w.archived;
      case 'prompt':
        return true;
    }
  });
}

export function promptSourceLabel(source: PromptSource | null): string {
  switch (source) {
    case 'command':
      return 'set by command';
    case 'file':
      return 'from .warden.toml';
    case 'settings':
      return 'from settings';
    default:
      return 'none';
  }
}

/** One line for pickers and the view: `active · open · main @ 1a2b3c4d`. */
export function describe(w: WorkspaceInfo): string {
  const parts: string[] = [];
  if (w.active) {
    parts.push('active');
  }
  if (w.archived) {
    parts.push('archived');
  }
  if (w.open) {
    parts.push('open');
  }
  if (w.branch || w.head) {
    parts.push(`${w.branch ?? 'detached'}${w.head ? ` @ ${w.head.slice(0, 8)}` : ''}`);
  } else if (w.root && !w.remote) {
    parts.push('folder');
  }
  return parts.join(' · ');
}

/**
 * What a screen reader says for a workspace row: words, no icons, no 40-character hash
 * (`Workspace alpha, active, open in this window, branch main, commit 1a2b3c4`).
 */
export function spokenWorkspace(w: WorkspaceInfo): string {
  const parts = [`Workspace ${w.name}`];
  if (w.active) parts.push('active');
  if (w.archived) parts.push('archived');
  if (w.open) parts.push('open in this window');
  if (w.branch) parts.push(`branch ${w.branch}`);
  else if (w.head) parts.push('detached');
  if (w.head) parts.push(`commit ${spokenHash(w.head)}`);
  if (!w.root) parts.push('files outside every folder');
  return parts.join(', ');
}

/** The first seven characters of a git hash, as `git log --oneline` shows it. */
export function spokenHash(hash: string): string {
  return hash.slice(0, 7);
}

/** A longer, multi-line description for tooltips. */
export function details(w: WorkspaceInfo): string {
  const lines = [`Workspace ${w.name}`];
  lines.push(`Folder: ${w.root ?? '(none: files outside every folder)'}`);
  if (w.remote) {
    lines.push(`Remote: ${w.remote}`);
  }
  if (w.branch || w.head) {
    lines.push(`Branch: ${w.branch ?? 'detached'}${w.head ? ` at ${w.head}` : ''}`);
  }
  lines.push(`System prompt: ${promptSourceLabel(w.systemPromptSource)}`);
  const flags = [w.active && 'active', w.archived && 'archived', w.open && 'open in this window']
    .filter(Boolean)
    .join(', ');
  if (flags) {
    lines.push(`State: ${flags}`);
  }
  lines.push(`Created: ${w.createdAt}`);
  return lines.join('\n');
}

/** The message for a new workspace name the server would refuse, or undefined. */
export function checkNewName(
  newName: string,
  current: string,
  all: readonly WorkspaceInfo[],
): string | undefined {
  if (newName.length === 0) {
    return 'Enter a name.';
  }
  if (newName.trim() !== newName) {
    return 'A name cannot start or end with spaces.';
  }
  if ([...newName].length > MAX_NAME_CHARS) {
    return `A name has at most ${MAX_NAME_CHARS} characters.`;
  }
  // eslint-disable-next-line no-control-regex
  if (/[/\\\u0000-\u001f\u007f]/.test(newName)) {
    return 'A name cannot contain "/", "\\" or control characters.';
  }
  if (newName !== current && all.some((w) => w.name === newName)) {
    return `There is already a workspace named ${newName}.`;
  }
  return undefined;
}

/** The message for a system prompt the server would refuse, or undefined. */
export function checkPrompt(prompt: string): string | undefined {
  if (prompt.trim().length === 0) {
    return 'The system prompt is empty.';
  }
  const n = [...prompt].length;
  if (n > MAX_PROMPT_CHARS) {
    return `The system prompt has ${n} characters; the limit is ${MAX_PROMPT_CHARS}.`;
  }
  return undefined;
}

/** Prompt editor tabs are `warden-prompt:/<name> system prompt.md`. */
export const PROMPT_SCHEME = 'warden-prompt';
const PROMPT_SUFFIX = ' system prompt.md';

export function promptPath(name: string): string {
  return `/${name}${PROMPT_SUFFIX}`;
}

export function workspaceFromPromptPath(p: string): string | undefined {
  if (!p.startsWith('/') || !p.endsWith(PROMPT_SUFFIX)) {
    return undefined;
  }
  const name = p.slice(1, -PROMPT_SUFFIX.length);
  return name.length > 0 && !name.includes('/') ? name : undefined;
}
