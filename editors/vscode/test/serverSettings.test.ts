// Checks package.json's settings against the real server (`$WARDEN_BIN`, else
// target/debug/warden): every contributed server key with its default is accepted, and
// every key given a value of the wrong type is rejected as a bad value of a known key
// (not as an unknown setting). Skipped when no binary is built.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, test } from 'node:test';
import { contributedProperties, serverKeys, toServerSection } from '../src/settings.ts';
import { LspClient, type Message } from './lspClient.ts';
import { packageJson, REPO } from './repo.ts';

const binary = process.env.WARDEN_BIN || path.join(REPO, 'target/debug/warden');
const available = fs.existsSync(binary);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'warden-vscode-settings-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const pj = packageJson();
const keys = serverKeys(pj);
const props = contributedProperties(pj);

function wrongValue(key: string): unknown {
  const t = props[`warden.${key}`].type;
  const types = Array.isArray(t) ? t : [t];
  if (types.includes('boolean')) return 'yes';
  if (types.includes('integer') || types.includes('number')) return 'many';
  if (types.includes('array')) return 'not a list';
  return 42; // strings
}

/** Starts a session whose settings are `section`; returns the settings warnings it got. */
async function settingsWarnings(section: Record<string, unknown>): Promise<string> {
  const client = new LspClient(binary, { WARDEN_DB: path.join(tmp, `w${Math.random()}.db`), WARDEN_LOG: 'warn' });
  try {
    client.onServerRequest = (method, params) =>
      method === 'workspace/configuration' ? (params as { items: unknown[] }).items.map(() => section) : null;
    await client.request('initialize', {
      processId: null,
      rootUri: null,
      capabilities: { workspace: { configuration: true } },
      initializationOptions: section,
    });
    client.notify('initialized', {});
    const isWarning = (m: Message): boolean =>
      m.method === 'window/showMessage' && String((m.params as { message: string }).message).startsWith('warden settings:');
    await client.waitFor(isWarning);
    return client.notifications
      .filter(isWarning)
      .map((m) => (m.params as { message: string }).message)
      .join('\n');
  } finally {
    await client.shutdown();
  }
}

describe('package.json settings against the real server', { skip: available ? false : `no warden binary at ${binary}` }, () => {
  test('every default is accepted (only the planted unknown key warns)', async () => {
    const defaults = toServerSection(keys, (k) => props[`warden.${k}`].default);
    const warnings = await settingsWarnings({ ...defaults, plantedUnknownKey: 1 });
    assert.match(warnings, /warden\.plantedUnknownKey: unknown setting/);
    for (const key of keys) {
      assert.ok(!warnings.includes(`warden.${key}:`), `the server warned about the default of ${key}: ${warnings}`);
    }
  });

  test('every key is known to the server', async () => {
    const wrong = toServerSection(keys, wrongValue);
    const warnings = await settingsWarnings(wrong);
    for (const key of keys) {
      assert.ok(warnings.includes(`warden.${key}:`), `no warning for a bad ${key}: ${warnings}`);
      assert.ok(!warnings.includes(`warden.${key}: unknown setting`), `the server does not know ${key}`);
    }
  });
});
