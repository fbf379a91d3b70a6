// The pure part of worktree collisions: the argument check of `warden.worktrees.compare`,
// the diff editor's title and the message when the other copy is gone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorktreeCompareArgs } from '../src/lsp_ext.ts';
import { baseName, diffTitle, isWorktreeCompareArgs, missingMessage, otherLabel } from '../src/worktreeModel.ts';

const args: WorktreeCompareArgs = {
  uri: 'file:///tmp/x/app/src/app.py',
  otherUri: 'file:///tmp/x/app-agent/src/app.py',
  worktree: '/tmp/x/app-agent',
  branch: 'agent/fix',
};

test('the quick fix argument is recognised; anything else is not', () => {
  assert.ok(isWorktreeCompareArgs(args));
  assert.ok(isWorktreeCompareArgs({ ...args, branch: null }), 'a detached HEAD');
  assert.ok(!isWorktreeCompareArgs(undefined));
  assert.ok(!isWorktreeCompareArgs('file:///tmp/x/app/src/app.py'));
  assert.ok(!isWorktreeCompareArgs({ uri: args.uri, worktree: args.worktree, branch: null }), 'no otherUri');
  assert.ok(!isWorktreeCompareArgs({ ...args, branch: 3 }));
});

test('the diff title names the file and the other branch', () => {
  assert.equal(diffTitle(args), 'app.py (agent/fix ↔ this worktree)');
  assert.equal(diffTitle({ ...args, branch: null }), 'app.py (app-agent, detached HEAD ↔ this worktree)');
  assert.equal(otherLabel({ worktree: '/tmp/x/app-agent/', branch: null }), 'app-agent, detached HEAD');
});

test('file names are decoded from the URI', () => {
  assert.equal(baseName('file:///tmp/x/my%20app/notes%20v2.md'), 'notes v2.md');
  assert.equal(baseName('/tmp/x/app-agent'), 'app-agent');
});

test('a deleted copy is reported with its worktree and branch', () => {
  assert.equal(
    missingMessage(args),
    'warden: app.py no longer exists in the worktree /tmp/x/app-agent (branch agent/fix); nothing to compare.',
  );
  assert.match(missingMessage({ ...args, branch: null }), /in the worktree \/tmp\/x\/app-agent \(detached HEAD\);/);
});
