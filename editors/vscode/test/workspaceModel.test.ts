// Unit tests of the workspace helpers: which workspaces each command offers, how they are
// described, client-side name and prompt checks, prompt tab URIs.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkspaceInfo } from '../src/lsp_ext.ts';
import {
  candidates,
  checkNewName,
  checkPrompt,
  describe as describeWs,
  details,
  promptPath,
  workspaceFromPromptPath,
  spokenWorkspace,
} from '../src/workspaceModel.ts';

function ws(name: string, over: Partial<WorkspaceInfo> = {}): WorkspaceInfo {
  return {
    name,
    root: `/src/${name}`,
    remote: null,
    branch: 'main',
    head: '0123456789abcdef',
    active: false,
    archived: false,
    open: false,
    systemPrompt: null,
    systemPromptSource: null,
    createdAt: '2026-11-21T15:09:06.123Z',
    ...over,
  };
}

const all = [
  ws('default', { root: null, branch: null, head: null, active: true }),
  ws('alpha', { open: true, systemPrompt: 'be brief', systemPromptSource: 'file' }),
  ws('old', { archived: true }),
  ws('closed'),
];
const names = (list: WorkspaceInfo[]) => list.map((w) => w.name);

describe('candidates', () => {
  test('per action', () => {
    assert.deepEqual(names(candidates('activate', all)), ['default', 'alpha', 'closed']);
    assert.deepEqual(names(candidates('rename', all)), ['alpha', 'old', 'closed']);
    assert.deepEqual(names(candidates('archive', all)), ['alpha', 'closed']);
    assert.deepEqual(names(candidates('restore', all)), ['old']);
    assert.deepEqual(names(candidates('delete', all)), ['old', 'closed']);
    assert.deepEqual(names(candidates('scan', all)), ['alpha', 'closed']);
    assert.deepEqual(names(candidates('prompt', all)), names(all));
  });
});

describe('descriptions', () => {
  test('one line', () => {
    assert.equal(describeWs(all[0]), 'active');
    assert.equal(describeWs(all[1]), 'open · main @ 01234567');
    assert.equal(describeWs(all[2]), 'archived · main @ 01234567');
    assert.equal(describeWs(ws('plain', { branch: null, head: null })), 'folder');
    assert.equal(describeWs(ws('detached', { branch: null })), 'detached @ 01234567');
  });

  test('tooltip', () => {
    const text = details(all[1]);
    assert.match(text, /Folder: \/src\/alpha/);
    assert.match(text, /System prompt: from \.warden\.toml/);
    assert.match(text, /State: open in this window/);
    assert.match(details(all[0]), /files outside every folder/);
  });
});

describe('checks', () => {
  test('new names', () => {
    assert.equal(checkNewName('fresh', 'alpha', all), undefined);
    assert.equal(checkNewName('alpha', 'alpha', all), undefined);
    assert.match(checkNewName('', 'alpha', all) ?? '', /Enter a name/);
    assert.match(checkNewName(' x', 'alpha', all) ?? '', /spaces/);
    assert.match(checkNewName('a/b', 'alpha', all) ?? '', /"\/"/);
    assert.match(checkNewName('a\\b', 'alpha', all) ?? '', /"\/"/);
    assert.match(checkNewName('a\tb', 'alpha', all) ?? '', /control/);
    assert.match(checkNewName('x'.repeat(65), 'alpha', all) ?? '', /64/);
    assert.equal(checkNewName('é'.repeat(64), 'alpha', all), undefined);
    assert.match(checkNewName('closed', 'alpha', all) ?? '', /already/);
  });

  test('prompts', () => {
    assert.equal(checkPrompt('Be brief.'), undefined);
    assert.match(checkPrompt('  \n') ?? '', /empty/);
    assert.match(checkPrompt('x'.repeat(16_001)) ?? '', /16001 characters; the limit is 16000/);
    assert.equal(checkPrompt('😀'.repeat(16_000)), undefined);
  });
});

describe('prompt tab paths', () => {
  test('round trip', () => {
    for (const name of ['alpha', 'my repo', 'a.b-2', 'naïve']) {
      assert.equal(workspaceFromPromptPath(promptPath(name)), name);
    }
    assert.equal(workspaceFromPromptPath('/alpha.md'), undefined);
    assert.equal(workspaceFromPromptPath('/a/b system prompt.md'), undefined);
    assert.equal(workspaceFromPromptPath('/ system prompt.md'), undefined);
  });
});

describe('spoken labels', () => {
  test('a workspace row reads words and a short hash, never the 40-character one', () => {
    const head = 'a'.repeat(40);
    const label = spokenWorkspace(ws('alpha', { active: true, open: true, branch: 'main', head, root: '/x/alpha' }));
    assert.equal(label, 'Workspace alpha, active, open in this window, branch main, commit aaaaaaa');
    assert.ok(!label.includes(head));
  });
});
