// Worktree collisions, the pure part: checking the argument of the client-side command
// `warden.worktrees.compare` (from the server's *Compare with the copy in worktree*
// quick fix), the diff editor's title, and what to say when the other copy is gone.

import type { WorktreeCompareArgs } from './lsp_ext.ts';

/** Whether `arg` is a `warden.worktrees.compare` argument (`branch` may be null). */
export function isWorktreeCompareArgs(arg: unknown): arg is WorktreeCompareArgs {
  if (typeof arg !== 'object' || arg === null) {
    return false;
  }
  const a = arg as Record<string, unknown>;
  return (
    typeof a.uri === 'string' &&
    typeof a.otherUri === 'string' &&
    typeof a.worktree === 'string' &&
    (a.branch === null || a.branch === undefined || typeof a.branch === 'string')
  );
}

/** The last segment of a file URI (or path), decoded: `app.py`. */
export function baseName(uriOrPath: string): string {
  let p = uriOrPath;
  try {
    p = decodeURIComponent(new URL(uriOrPath).pathname);
  } catch {
    // a plain path
  }
  const parts = p.split(/[\\/]/).filter((s) => s.length > 0);
  return parts[parts.length - 1] ?? uriOrPath;
}

/** How the other copy is named: its branch, else `app-agent, detached HEAD`. */
export function otherLabel(args: Pick<WorktreeCompareArgs, 'worktree' | 'branch'>): string {
  return args.branch ? args.branch : `${baseName(args.worktree)}, detached HEAD`;
}

/** The diff editor's title: `app.py (agent/fix ↔ this worktree)`. */
export function diffTitle(args: WorktreeCompareArgs): string {
  return `${baseName(args.uri)} (${otherLabel(args)} ↔ this worktree)`;
}

/** Said instead of a diff when the other worktree no longer has the file. */
export function missingMessage(args: WorktreeCompareArgs): string {
  const branch = args.branch ? ` (branch ${args.branch})` : ' (detached HEAD)';
  return `warden: ${baseName(args.otherUri)} no longer exists in the worktree ${args.worktree}${branch}; nothing to compare.`;
}

/** The error for a call without a usable argument (from the palette or a keybinding). */
export const NEEDS_ARGS =
  'Compare with the Other Worktree\'s Copy runs from the quick fix of a "worktree-collision" warning (it needs {uri, otherUri, worktree, branch}).';
