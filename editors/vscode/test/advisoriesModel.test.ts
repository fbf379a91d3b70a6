// Unit tests of the advisory helpers (src/advisoriesModel.ts): manifest names per
// ecosystem (as the server's manifest::kind_of), mirrors shown without credentials,
// WARDEN_OFFLINE, ages in words, and the choices of *Download Advisories Now*.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ago,
  DEFAULT_OSV_MIRROR,
  ecosystemChoices,
  ecosystemNamed,
  ecosystemOfManifest,
  effectiveMirror,
  isOffline,
  isStale,
  updateArgs,
  withoutCredentials,
} from '../src/advisoriesModel.ts';

const NOW = Date.parse('2026-11-21T12:00:00Z');

describe('advisory helpers', () => {
  test('manifests and their ecosystems', () => {
    assert.equal(ecosystemOfManifest('/w/app/requirements.txt'), 'PyPI');
    assert.equal(ecosystemOfManifest('/w/app/requirements-dev.txt'), 'PyPI');
    assert.equal(ecosystemOfManifest('/w/app/ci-requirements.txt'), 'PyPI');
    assert.equal(ecosystemOfManifest('/w/tools/pyproject.toml'), 'PyPI');
    assert.equal(ecosystemOfManifest('/w/web/package.json'), 'npm');
    assert.equal(ecosystemOfManifest('C:\\w\\Cargo.toml'), 'crates.io');
    assert.equal(ecosystemOfManifest('/w/go.mod'), 'Go');
    assert.equal(ecosystemOfManifest('/w/package-lock.json'), undefined);
    assert.equal(ecosystemOfManifest('/w/notes.txt'), undefined);
    assert.equal(ecosystemNamed('pypi'), 'PyPI');
    assert.equal(ecosystemNamed(' CRATES.IO '), 'crates.io');
    assert.equal(ecosystemNamed('cobol'), undefined);
  });

  test('mirrors are shown without credentials; the setting wins over the environment', () => {
    assert.equal(withoutCredentials('http://warden:tok3n@127.0.0.1:41234/osv'), 'http://127.0.0.1:41234/osv');
    assert.equal(withoutCredentials('https://mirror.example/osv'), 'https://mirror.example/osv');
    assert.deepEqual(effectiveMirror('https://u:p@team.example/osv/', 'http://env.example'), {
      url: 'https://team.example/osv',
      source: '`warden.packages.osvMirror`',
    });
    assert.deepEqual(effectiveMirror('', 'http://t:k@env.example/osv'), { url: 'http://env.example/osv', source: '`WARDEN_OSV_MIRROR`' });
    assert.equal(effectiveMirror(undefined, undefined).url, DEFAULT_OSV_MIRROR);
  });

  test('WARDEN_OFFLINE: any value but empty and 0', () => {
    assert.equal(isOffline(undefined), false);
    assert.equal(isOffline(''), false);
    assert.equal(isOffline('0'), false);
    assert.equal(isOffline('1'), true);
    assert.equal(isOffline('yes'), true);
  });

  test('ages in words; stale after 7 days', () => {
    assert.equal(ago('2026-11-21T11:59:40Z', NOW), 'just now');
    assert.equal(ago('2026-11-21T11:59:00Z', NOW), '1 minute ago');
    assert.equal(ago('2026-11-21T09:00:00Z', NOW), '3 hours ago');
    assert.equal(ago('2026-11-19T12:00:00Z', NOW), '2 days ago');
    assert.equal(ago('2026-11-12T12:00:00Z', NOW), '9 days ago');
    assert.equal(ago(null, NOW), 'at an unknown time');
    assert.equal(isStale('2026-11-15T00:00:00Z', NOW), false);
    assert.equal(isStale('2026-11-14T11:00:00Z', NOW), true);
    assert.equal(isStale(null, NOW), false);
  });

  test("the quick pick: the workspace's ecosystems picked, with their data's age; then full", () => {
    const rows = ecosystemChoices(new Set(['PyPI', 'Go']), new Map([['PyPI', '2026-11-10T12:00:00Z'], ['npm', '2026-11-21T11:00:00Z']]), NOW);
    assert.deepEqual(
      rows.map((r) => [r.label, r.picked, r.description]),
      [
        ['PyPI', true, 'manifests in this workspace · data from 11 days ago (stale)'],
        ['npm', false, 'data from 1 hour ago'],
        ['crates.io', false, 'no data yet'],
        ['Go', true, 'manifests in this workspace · no data yet'],
        ['Download whole archives again', false, 'instead of only the records changed since the last download'],
      ],
    );
    assert.deepEqual(updateArgs([rows[0], rows[3]]), { ecosystems: ['PyPI', 'Go'] });
    assert.deepEqual(updateArgs([rows[1], rows[4]]), { ecosystems: ['npm'], full: true });
    assert.deepEqual(updateArgs([]), {});
  });
});
