// Keeps package.json's contributed settings in sync with the server's settings schema as
// documented in server/docs/protocol.md (key, type and default of every row, both ways),
// and tests how the `warden` section sent to the server is built. Data-driven: a setting
// added to the server's table fails here until package.json contributes it.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  contributedProperties,
  EXTENSION_ONLY_KEYS,
  serverKeys,
  toServerSection,
} from '../src/settings.ts';
import { packageJson, protocolSettings, read } from './repo.ts';

const doc = protocolSettings(read('server/docs/protocol.md'));
const props = contributedProperties(packageJson());

function types(t: string | string[] | undefined): string[] {
  return Array.isArray(t) ? t : t ? [t] : [];
}

describe('package.json settings match the server schema (protocol.md)', () => {
  test('the table was found and is not empty', () => {
    assert.ok(doc.length >= 10, `only ${doc.length} rows parsed`);
  });

  test('every server setting is contributed, and nothing else except extension-only keys', () => {
    const documented = doc.map((r) => r.key).sort();
    assert.deepEqual(serverKeys(packageJson()), documented);
    for (const key of EXTENSION_ONLY_KEYS) {
      assert.ok(props[`warden.${key}`], `extension-only setting warden.${key} is contributed`);
      assert.ok(!documented.includes(key), `${key} is a server setting now; drop it from EXTENSION_ONLY_KEYS`);
    }
  });

  for (const row of doc) {
    test(`warden.${row.key}: type ${row.type}, default ${row.default}`, () => {
      const p = props[`warden.${row.key}`];
      assert.ok(p, `package.json does not contribute warden.${row.key}`);
      const t = types(p.type);
      switch (row.type) {
        case 'boolean':
          assert.deepEqual(t, ['boolean']);
          break;
        case 'number':
          assert.ok(t.includes('number') || t.includes('integer'), `type ${t}`);
          break;
        case 'string':
          assert.ok(t.includes('string'), `type ${t}`);
          break;
        case 'string[]':
          assert.deepEqual(t, ['array']);
          assert.equal(p.items?.type, 'string');
          break;
        case 'array':
          assert.deepEqual(t, ['array']);
          break;
        case 'object':
          assert.deepEqual(t, ['object']);
          break;
        default:
          assert.fail(`protocol.md has a type this test does not know: ${row.type}`);
      }
      let expected: unknown;
      try {
        expected = JSON.parse(row.default);
      } catch {
        // `none`, a computed path or a built-in table: the server decides. Unset is ""
        // for a string (what the Settings editor can edit; the extension leaves it out),
        // {} for an object (maps are merged over the server's built-ins), else null.
        expected = row.type === 'string' ? '' : row.type === 'object' ? {} : null;
      }
      assert.deepEqual(p.default ?? null, expected);
      assert.ok(p.markdownDescription || p.description, 'has a description');
    });
  }
});

describe('the section sent to the server', () => {
  test('nests dotted keys, leaves out unset values and extension-only keys', () => {
    const keys = serverKeys(packageJson());
    const values: Record<string, unknown> = {
      'server.path': '/opt/warden',
      'trace.server': 'verbose',
      'trace.live': false,
      'scan.maxFileSize': 10,
      'secrets.disable': ['generic-secret'],
      systemPrompt: '',
      'database.path': undefined,
      'packages.osvPaths': null,
    };
    const section = toServerSection(keys, (k) => values[k]);
    assert.deepEqual(section, {
      trace: { live: false },
      scan: { maxFileSize: 10 },
      secrets: { disable: ['generic-secret'] },
    });
  });

  test('keeps object values whole', () => {
    const rule = { id: 'acme', regex: 'acme_[a-z]{8}' };
    assert.deepEqual(toServerSection(['secrets.rules'], () => [rule]), { secrets: { rules: [rule] } });
  });

  test('reads configuration given as a list of sections', () => {
    const pj = {
      contributes: {
        configuration: [
          { properties: { 'warden.a': { type: 'boolean' } } },
          { properties: { 'warden.b.c': { type: 'string' }, 'warden.server.path': {} } },
        ],
      },
    };
    assert.deepEqual(serverKeys(pj), ['a', 'b.c']);
  });
});
