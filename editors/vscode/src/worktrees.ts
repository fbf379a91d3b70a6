// Worktree collisions in VS Code: `warden.worktrees.compare`, the command of the server's
// *Compare with the copy in worktree* quick fix, run here, not by the server (it is not in
// executeCommandProvider, and client.ts leaves the library's executeCommand feature out).
// Opens VS Code's diff editor with the other worktree's copy on the left and this
// document on the right; when the other copy was deleted meanwhile it says so instead.

import * as vscode from 'vscode';
import { diffTitle, isWorktreeCompareArgs, missingMessage, NEEDS_ARGS } from './worktreeModel.ts';

export async function compareWithWorktree(arg: unknown): Promise<boolean> {
  if (!isWorktreeCompareArgs(arg)) {
    throw new Error(NEEDS_ARGS);
  }
  const other = vscode.Uri.parse(arg.otherUri);
  const mine = vscode.Uri.parse(arg.uri);
  try {
    await vscode.workspace.fs.stat(other);
  } catch {
    void vscode.window.showInformationMessage(missingMessage(arg));
    return false;
  }
  await vscode.commands.executeCommand('vscode.diff', other, mine, diffTitle(arg), { preview: true });
  return true;
}
