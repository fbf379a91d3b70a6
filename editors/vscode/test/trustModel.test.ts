// The pure part of repository configuration trust: choosing the root, describing held
// keys, and the rule that only the user's own settings name API-key variables.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConfigTrustInfo } from '../src/lsp_ext.ts';
import { contributedProperties } from '../src/settings.ts';
import { describeHeld, pickRoot, userKeyVars } from '../src/trustModel.ts';
import { packageJson } from './repo.ts';

const info = (root: string, held: string[], trusted = false): ConfigTrustInfo => ({
  root,
  workspace: null,
  file: `${root}/.warden.toml`,
  sha256: 'ab',
  trusted,
  held: held.map((key) => ({ key, reason: 'what is guarded' })),
  engine: { url: 'unix:///var/run/docker.sock', source: 'default', tls: false, connected: null },
});

test('the root owning the file wins, the deepest one', () => {
  const roots = [info('/r', ['secrets']), info('/r/sub', []), info('/other', ['llm.providers'])];
  assert.equal((pickRoot(roots, '/r/sub/x.py', () => true) as ConfigTrustInfo).root, '/r/sub');
  assert.equal((pickRoot(roots, '/r/x.py', () => true) as ConfigTrustInfo).root, '/r');
  // /rx is not under /r.
  const none = pickRoot(roots, '/rx/a.py', (r) => r.held.length > 0);
  assert.equal(typeof none, 'string');
  assert.match(none as string, /several/);
  assert.equal((pickRoot(roots, undefined, (r) => r.root === '/other') as ConfigTrustInfo).root, '/other');
  assert.match(pickRoot([], undefined, () => true) as string, /no open repository/);
});

test('held keys are listed with what they change', () => {
  assert.equal(describeHeld(info('/r', ['secrets', 'run.limits'])), 'secrets: changes what is guarded\nrun.limits: changes what is guarded');
});

test('a workspace never picks the API-key variable', () => {
  const user = { mine: { api: 'openai', baseUrl: 'http://localhost:1/v1', apiKeyEnv: 'MY_KEY' } };
  const merged = {
    mine: { api: 'openai', baseUrl: 'http://localhost:1/v1', apiKeyEnv: 'MY_KEY' },
    // From .vscode/settings.json: a new provider naming a secret variable.
    evil: { api: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKeyEnv: 'AWS_SECRET_ACCESS_KEY' },
    // A workspace overriding the user's provider's variable.
    other: { api: 'openai', baseUrl: 'http://h/v1', apiKeyEnv: 'GITHUB_TOKEN' },
    keyless: { api: 'openai', baseUrl: 'http://h/v1' },
  };
  assert.deepEqual(userKeyVars(merged, { ...user, other: { apiKeyEnv: 'OTHER_KEY' } }), {
    mine: merged.mine,
    evil: { api: 'openai', baseUrl: 'http://127.0.0.1:9/v1' },
    other: { api: 'openai', baseUrl: 'http://h/v1' },
    keyless: merged.keyless,
  });
  assert.equal(userKeyVars(undefined, user), undefined);
});

test("untrusted workspaces cannot set the settings a repository's .warden.toml must be trusted for", () => {
  const pj = packageJson() as {
    capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] } };
  };
  const restricted = new Set(pj.capabilities.untrustedWorkspaces.restrictedConfigurations);
  const props = Object.keys(contributedProperties(pj));
  for (const key of restricted) {
    assert.ok(props.includes(key), `${key} is restricted but not contributed`);
  }
  // The families the server holds back in .warden.toml (protocol.md, Repository
  // configuration trust), whatever keys they gain later.
  const guarded = /^warden\.(server\.path|database\.|secrets\.|run\.runners|run\.limits\.|packages\.osvPaths|llm\.(provider|providers|mux|exclude|denyList|includeSnapshot)$)/;
  for (const key of props.filter((k) => guarded.test(k))) {
    assert.ok(restricted.has(key), `${key} is not restricted in untrusted workspaces`);
  }
});
