// Unit tests of the Show Status report (src/statusModel.ts) and of the settings helpers
// behind the LLM menu entries and the settings tab chosen (src/settings.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { llmConfigured, settingsTarget } from '../src/settings.ts';
import { advisoryRow, age, type StatusReport, statusMarkdown } from '../src/statusModel.ts';

const NOW = Date.parse('2026-11-21T12:00:00Z');

function report(over: Partial<StatusReport> = {}): StatusReport {
  return {
    extensionVersion: '0.1.0',
    server: { state: 'running', path: '/bin/warden', version: '0.1.0' },
    database: { path: '/d/warden.db', source: 'default', exists: true, bytes: 4096 },
    advisories: { rows: [], osvPaths: [] },
    docker: { version: '20.10.24', images: [{ image: 'warden-runner-python:bookworm', present: false }] },
    llm: { provider: 'ollama', model: null, baseUrl: 'http://localhost:11434/v1', reachable: false, detail: 'does not answer (ECONNREFUSED)' },
    trust: { roots: [{ root: '/r', file: '/r/.warden.toml', trusted: false, held: ['llm.provider'] }] },
    ...over,
  };
}

describe('status report', () => {
  test('a fresh install says why there are no package findings', () => {
    const md = statusMarkdown(report(), NOW);
    assert.match(md, /no advisories loaded, so package findings are off/);
    assert.match(md, /warden\.packages\.osvPaths/);
    assert.match(md, /runner image `warden-runner-python:bookworm` is missing/);
    assert.match(md, /no model/);
    assert.match(md, /does not answer/);
    assert.match(md, /not trusted, ignoring `llm\.provider`/);
  });

  test('advisory rows with their age; old data is flagged', () => {
    const rows = [
      advisoryRow({ ecosystem: 'PyPI', advisories: 10, malicious: 2, packages: 8, newest_modified: '2026-11-20T00:00:00Z' }),
      advisoryRow({ ecosystem: 'npm', advisories: 3, malicious: 3, packages: 3, newestModified: '2025-01-01T00:00:00Z' }),
    ];
    const md = statusMarkdown(report({ advisories: { rows, osvPaths: ['/osv'] } }), NOW);
    assert.match(md, /✓ \*\*PyPI\*\*: 10 advisories \(2 malicious\) on 8 packages, newest record 1 day old/);
    assert.match(md, /⚠ \*\*npm\*\*: .* newest record 23 months old: refresh the data/);
  });

  test('age', () => {
    assert.equal(age(null, NOW), 'age unknown');
    assert.equal(age('0001-01-01T00:00:00Z', NOW), 'age unknown');
    assert.equal(age('2026-11-21T01:00:00Z', NOW), 'from today');
    assert.equal(age('2024-11-21T01:00:00Z', NOW), '2 years old');
  });
});

describe('settings helpers', () => {
  test('a model comes from llm.model, the provider or a mux rule', () => {
    const get = (v: Record<string, unknown>) => (k: string) => v[k];
    assert.equal(llmConfigured(get({ 'llm.provider': 'ollama' })), false);
    assert.equal(llmConfigured(get({ 'llm.model': 'gpt-4o-mini' })), true);
    assert.equal(llmConfigured(get({ 'llm.provider': 'x', 'llm.providers': { x: { model: 'm' } } })), true);
    assert.equal(llmConfigured(get({ 'llm.mux': [{ glob: '**', provider: 'x' }] })), true);
  });

  test('the settings tab: the scope that sets it, else Remote for machine settings in a remote window', () => {
    assert.equal(settingsTarget({ machineScoped: true, remote: true }), 'remote');
    assert.equal(settingsTarget({ machineScoped: true, remote: false }), 'user');
    assert.equal(settingsTarget({ machineScoped: false, remote: true }), 'user');
    assert.equal(settingsTarget({ workspaceValue: '/x', machineScoped: true, remote: true }), 'workspace');
    assert.equal(settingsTarget({ workspaceFolderValue: '/y', workspaceValue: '/x', machineScoped: true, remote: true }), 'workspaceFolder');
  });
});
