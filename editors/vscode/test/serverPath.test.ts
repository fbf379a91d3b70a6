// Unit tests of where the extension finds the warden binary (setting, bundled, PATH), the
// messages when it is missing, the restart backoff, and the levels of server log lines.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Backoff } from '../src/backoff.ts';
import { expand, resolveServer, type ServerLookup } from '../src/serverPath.ts';

function lookup(executables: string[], over: Partial<ServerLookup> = {}): ServerLookup {
  return {
    setting: undefined,
    bundled: '/ext/server/warden',
    pathEnv: '/usr/local/bin:/usr/bin',
    home: '/home/u',
    baseDir: '/work/project',
    isExecutable: (f) => executables.includes(f),
    ...over,
  };
}

describe('resolveServer', () => {
  test('the setting wins', () => {
    const r = resolveServer(lookup(['/opt/warden', '/ext/server/warden', '/usr/bin/warden'], { setting: '/opt/warden' }));
    assert.deepEqual(r, { ok: true, path: '/opt/warden', source: 'setting' });
  });

  test('a setting that points nowhere is an error, not a silent fallback', () => {
    const r = resolveServer(lookup(['/usr/bin/warden'], { setting: '~/bin/warden' }));
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.message.includes('/home/u/bin/warden'), JSON.stringify(r));
  });

  test('then the bundled binary', () => {
    const r = resolveServer(lookup(['/ext/server/warden', '/usr/bin/warden'], { setting: '  ' }));
    assert.deepEqual(r, { ok: true, path: '/ext/server/warden', source: 'bundled' });
  });

  test('then PATH, in order', () => {
    const r = resolveServer(lookup(['/usr/bin/warden']));
    assert.deepEqual(r, { ok: true, path: '/usr/bin/warden', source: 'PATH' });
  });

  test('nothing found lists where it looked', () => {
    const r = resolveServer(lookup([], { pathEnv: '/a::/b' }));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(r.tried, ['/ext/server/warden', '/a/warden', '/b/warden']);
      assert.match(r.message, /not found/);
      assert.match(r.message, /warden\.server\.path/);
    }
  });

  test('paths expand ~ and resolve relative to the first folder', () => {
    assert.equal(expand('~/x/warden', '/home/u', undefined), '/home/u/x/warden');
    assert.equal(expand('target/debug/warden', '/home/u', '/work/p'), '/work/p/target/debug/warden');
    assert.equal(expand('/abs/./warden', '/home/u', '/work/p'), '/abs/warden');
  });
});

describe('Backoff', () => {
  const opts = { baseMs: 1000, maxMs: 8000, healthyMs: 60_000, maxAttempts: 5 };

  test('doubles up to the cap, then gives up', () => {
    const b = new Backoff(opts);
    const delays = [];
    for (let i = 0; i < 6; i++) {
      b.started(i * 10);
      delays.push(b.crashed(i * 10 + 5));
    }
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, null]);
  });

  test('a server that stayed up long enough starts a new streak', () => {
    const b = new Backoff(opts);
    b.started(0);
    b.crashed(10);
    b.started(20);
    assert.equal(b.crashed(30), 2000);
    b.started(1000);
    assert.equal(b.crashed(1000 + 60_000), 1000);
    assert.equal(b.streak, 1);
  });

  test('reset forgets the streak', () => {
    const b = new Backoff(opts);
    b.crashed(0);
    b.crashed(1);
    b.reset();
    assert.equal(b.crashed(2), 1000);
  });
});

describe('serverLogLine', () => {
  test('files server lines under their level', async () => {
    const { serverLogLine } = await import('../src/serverLog.ts');
    assert.deepEqual(serverLogLine('2026-11-21T18:41:39.227630Z  INFO database migrated to schema 1'), {
      level: 'info',
      text: 'database migrated to schema 1',
    });
    assert.equal(serverLogLine('2026-11-21T18:41:39.2Z  WARN x').level, 'warn');
    assert.equal(serverLogLine('\u001b[2m2026-11-21T18:41:39.2Z\u001b[0m \u001b[33mDEBUG\u001b[0m y').level, 'debug');
    assert.deepEqual(serverLogLine("thread 'main' panicked at src/x.rs:1:1"), {
      level: 'error',
      text: "thread 'main' panicked at src/x.rs:1:1",
    });
  });
});
