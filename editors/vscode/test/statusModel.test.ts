// Unit tests of the Show Status report (src/statusModel.ts, the LLM gateway included) and of the settings helpers
// behind the LLM menu entries and the settings tab chosen (src/settings.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { llmConfigured, settingsTarget } from '../src/settings.ts';
import { advisoryRow, age, engineLine, type StatusReport, statusMarkdown } from '../src/statusModel.ts';

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
  test('each workspace names the engine its runs go to, why that one, and what answered', () => {
    const roots = [
      {
        root: '/a',
        file: null,
        trusted: false,
        held: [],
        engine: { url: 'tcp://127.0.0.1:2376', source: 'setting' as const, tls: true, connected: 'Docker Engine 20.10.24 (API 1.41)' },
      },
      {
        root: '/b',
        file: '/b/.warden.toml',
        trusted: false,
        held: ['run.engine'],
        engine: { url: 'unix:///var/run/docker.sock', source: 'default' as const, tls: false, connected: null },
      },
    ];
    const md = statusMarkdown(report({ trust: { roots } }), NOW);
    assert.match(md, /## Engine per workspace/);
    assert.ok(
      md.includes('- ✓ `/a`: runs go to `tcp://127.0.0.1:2376` (`warden.run.engine`, TLS; Docker Engine 20.10.24 (API 1.41) answered)'),
      md,
    );
    assert.ok(md.includes('- ℹ `/b`: runs go to `unix:///var/run/docker.sock` (the default socket; not contacted yet)'), md);
    assert.match(md, /not trusted, ignoring `run\.engine`/);
    assert.equal(
      engineLine('/c', { url: 'unix:///run/podman/podman.sock', source: 'dockerHost', tls: false, connected: 'Podman Engine 4.3.1 (API 1.41)' }),
      "- ✓ `/c`: runs go to `unix:///run/podman/podman.sock` (the server's `DOCKER_HOST`; Podman Engine 4.3.1 (API 1.41) answered)",
    );
  });

  test('a fresh install says why there are no package findings and how data arrives', () => {
    const md = statusMarkdown(report(), NOW);
    assert.match(md, /no advisories loaded yet, so there are no package findings/);
    assert.match(md, /downloads the data of an ecosystem when it first sees one of its manifests/);
    assert.match(md, /Warden: Download Advisories Now/);
    assert.match(md, /warden db import PATH/);
    assert.match(md, /runner image `warden-runner-python:bookworm` is missing/);
    assert.match(md, /no model/);
    assert.match(md, /does not answer/);
    assert.match(md, /not trusted, ignoring `llm\.provider`/);
  });

  test('each ecosystem with when it was made current and where it comes from; old data is flagged', () => {
    const rows = [
      advisoryRow({
        ecosystem: 'PyPI',
        advisories: 10,
        malicious: 2,
        packages: 8,
        newest_modified: '2026-11-20T00:00:00Z',
        currentAsOf: '2026-11-21T09:00:00Z',
        mirror: 'https://user:s3cret@mirror.example/osv',
      }),
      advisoryRow({
        ecosystem: 'npm',
        advisories: 3,
        malicious: 3,
        packages: 3,
        newestModified: '2025-01-01T00:00:00Z',
        currentAsOf: '2026-11-12T12:00:00Z',
        mirror: null,
      }),
    ];
    const md = statusMarkdown(report({ advisories: { rows, osvPaths: ['/osv'], used: ['PyPI', 'npm'] } }), NOW);
    assert.match(
      md,
      /✓ \*\*PyPI\*\*: 10 advisories \(2 malicious\) on 8 packages, current as of 3 hours ago \(downloaded from `https:\/\/mirror\.example\/osv`\), newest record 1 day old/,
    );
    assert.doesNotMatch(md, /s3cret/, 'credentials are never shown');
    assert.match(md, /⚠ \*\*npm\*\*: 3 advisories .* last made current 9 days ago \(imported files\), older than 7 days: .*Warden: Download Advisories Now\* \(or `warden db update npm`/);
    assert.match(md, /imported from `warden\.packages\.osvPaths`: `\/osv`/);
  });

  test('an ecosystem the workspace uses without data is flagged with the fix', () => {
    const rows = [advisoryRow({ ecosystem: 'PyPI', advisories: 5, malicious: 2, packages: 4, currentAsOf: '2026-11-21T11:59:30Z', mirror: 'http://127.0.0.1:9/osv' })];
    const downloads = { offline: false, update: true, updateHours: 24, mirror: 'http://127.0.0.1:9/osv', mirrorSource: '`warden.packages.osvMirror`' };
    const md = statusMarkdown(report({ advisories: { rows, osvPaths: [], used: ['PyPI', 'Go'], downloads } }), NOW);
    assert.match(md, /✓ \*\*PyPI\*\*: .*current as of just now/);
    assert.match(md, /⚠ \*\*Go\*\*: no advisory data, but this workspace has Go manifests: their packages are not checked\. Run \*Warden: Download Advisories Now\* \(or `warden db update Go`/);
    assert.match(md, /ℹ kept current in the background from `http:\/\/127\.0\.0\.1:9\/osv` \(`warden\.packages\.osvMirror`\), checked when older than 24 h/);
    assert.doesNotMatch(md, /no advisories loaded/);

    const off = statusMarkdown(report({ advisories: { rows: [], osvPaths: [], used: ['npm'], downloads: { ...downloads, offline: true } } }), NOW);
    assert.match(off, /⚠ \*\*npm\*\*: no advisory data.*`WARDEN_OFFLINE` is set, so nothing is downloaded: import OSV files/);
    assert.match(off, /ℹ `WARDEN_OFFLINE` is set: nothing is downloaded/);
    const manual = statusMarkdown(report({ advisories: { rows, osvPaths: [], downloads: { ...downloads, update: false } } }), NOW);
    assert.match(manual, /background downloads are off \(`warden\.packages\.update`\)/);
  });

  test('rows from an older server without currentAsOf', () => {
    const row = advisoryRow({ ecosystem: 'Go', advisories: 2, malicious: 0, packages: 2, newest_modified: '2026-11-20T00:00:00Z' });
    assert.equal(row.currentAsOf, null);
    assert.equal(row.mirror, null);
    assert.match(statusMarkdown(report({ advisories: { rows: [row], osvPaths: [] } }), NOW), /ℹ \*\*Go\*\*: .*when it was last made current is unknown/);
  });

  test('the LLM gateway: its URL per workspace, the terminals, the budgets; or why it is not there', () => {
    const md = statusMarkdown(
      report({
        gateway: {
          workspaces: [{ workspace: 'alpha', baseUrl: 'http://127.0.0.1:5/w/alpha', openaiBaseUrl: 'http://127.0.0.1:5/w/alpha/v1' }],
          terminals: 'Terminals of **alpha** use it.',
          budgets: ['Daily budget: $1.00 per workspace and UTC day'],
        },
      }),
      NOW,
    );
    assert.match(md, /## LLM gateway \(AI tools in the terminal\)\n\n- ✓ \*\*alpha\*\*: `http:\/\/127\.0\.0\.1:5\/w\/alpha` \(OpenAI SDKs: `http:\/\/127\.0\.0\.1:5\/w\/alpha\/v1`\)/);
    assert.match(md, /- ℹ Terminals of \*\*alpha\*\* use it\./);
    assert.match(md, /- ℹ Daily budget: \$1\.00/);
    const off = statusMarkdown(report({ gateway: { workspaces: [], error: 'the LLM gateway is not running', terminals: 'x', budgets: [] } }), NOW);
    assert.match(off, /- ⚠ not available: the LLM gateway is not running\. `warden\.gateway\.enabled` starts it/);
    assert.doesNotMatch(off, /- ℹ x/);
    assert.doesNotMatch(statusMarkdown(report(), NOW), /LLM gateway/, 'nothing while the server is down');
  });

  test('trace export: off with how to turn it on, working with its counts, failing with why and what was kept', () => {
    const zero = { exported: 0, dropped: 0, failures: 0, queued: 0, lastError: null };
    const off = statusMarkdown(report({ telemetry: { endpoint: null, ...zero } }), NOW);
    assert.match(off, /## Trace export \(OpenTelemetry\)\n\n- ℹ off: spans stay in the database\. `warden\.trace\.otlp\.endpoint`/);
    const on = statusMarkdown(report({ telemetry: { ...zero, endpoint: 'http://127.0.0.1:6006/v1/traces', exported: 42 } }), NOW);
    assert.ok(on.includes('- ✓ `http://127.0.0.1:6006/v1/traces`: 42 spans exported, 0 queued, 0 dropped (queue full, oldest first)'), on);
    const failing = statusMarkdown(
      report({
        telemetry: { endpoint: 'http://c:4318/v1/traces', exported: 3, dropped: 17, failures: 1, queued: 2048, lastError: 'connection refused' },
      }),
      NOW,
    );
    assert.ok(failing.includes('- ⚠ `http://c:4318/v1/traces` is failing (1 failed attempt, retried with backoff): connection refused'), failing);
    assert.ok(failing.includes('- ℹ 3 spans exported, 2048 queued, 17 dropped (queue full, oldest first)'), failing);
    const dropped = statusMarkdown(report({ telemetry: { ...zero, endpoint: 'http://c/v1/traces', exported: 5, dropped: 2 } }), NOW);
    assert.match(dropped, /- ⚠ `http:\/\/c\/v1\/traces`: 5 spans exported, 0 queued, 2 dropped/, 'drops are a warning even once it works');
    assert.match(statusMarkdown(report({ telemetry: { error: 'timed out' } }), NOW), /## Trace export[^\n]*\n\n- ℹ unknown: timed out/);
    assert.doesNotMatch(statusMarkdown(report(), NOW), /Trace export/, 'nothing while the server is down');
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
