// End-to-end scenarios of package data (issue 19, "Packages II") in real VS Code, in a
// session of their own: warden online, but only against the loopback registry
// (warden-mock-registry serving fixtures/osv as an OSV mirror and fixtures/metadata as a
// package metadata API; WARDEN_OSV_MIRROR and WARDEN_METADATA_URL point there too, so
// nothing can reach the internet), a fresh database, one folder `app` with a
// requirements.txt (`requests==2.30.0`, `pilllow`). In order: the advisories of the
// manifest appear with no manual step (downloaded in the background); Show Status says
// per ecosystem when the data was made current and where it came from; with updates off
// and another fresh database (the `warden.database.path` change restarts the server
// through the extension's question), no data is one information on line 1 whose quick
// fix *Download PyPI advisories now* downloads it; *Warden: Download Advisories Now*
// asks which ecosystems (this workspace's picked) and downloads; with package metadata
// on (asked of the loopback API), an unknown package is an error and a deprecated one a
// warning with the registry's reason.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import type { Locator } from 'playwright-core';
import { editSettings, FIXTURES, MockRegistry, prepare, Session, until, WARDEN_BIN, WORK } from './harness.ts';

const s = new Session();
let registry: MockRegistry;
const APP = path.join(FIXTURES, 'app');
/** The database of the first scenarios, and the one the restarted server opens. */
const DB_FIRST = path.join(WORK, 'db/first.db');
const DB_SECOND = path.join(WORK, 'db/second.db');

before(async () => {
  registry = await MockRegistry.start();
  prepare(
    {},
    {
      fixtures: (dir) => {
        fs.mkdirSync(path.join(dir, 'app'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'app/requirements.txt'), 'requests==2.30.0\npilllow\n');
        fs.writeFileSync(path.join(dir, 'app/main.py'), 'import requests\n');
        return ['app'];
      },
      machine: {
        'warden.server.path': WARDEN_BIN,
        'warden.database.path': DB_FIRST,
        'warden.packages.osvMirror': registry.osv,
        'warden.packages.metadataUrl': registry.metadata,
        // Off until the metadata scenario: `pilllow` has no recorded answer (an unknown
        // package), which would add a finding to the advisory scenarios.
        'warden.packages.metadata': false,
      },
      history: false,
      // The database comes from `warden.database.path`, so a scenario can switch to a
      // fresh one.
      databaseFromEnv: false,
      env: { WARDEN_OFFLINE: '0', WARDEN_OSV_MIRROR: registry.osv, WARDEN_METADATA_URL: registry.metadata },
    },
  );
  fs.mkdirSync(path.dirname(DB_FIRST), { recursive: true });
  await s.start();
});

afterEach(async (t) => {
  if (!(t as { passed?: boolean }).passed && s.page) {
    await s.screenshot(`failed-${t.name.replace(/\W+/g, '-').slice(0, 40)}`).catch(() => undefined);
  }
});

after(async () => {
  if (s.page) {
    await s.screenshot('final').catch(() => undefined);
  }
  await s.stop();
  await registry?.stop();
});

/** The Problems panel filtered to `text`; returns its rows. */
async function problems(text: string): Promise<Locator> {
  if (!(await s.page.locator('.markers-panel').isVisible())) {
    await s.page.keyboard.press('Control+Shift+M');
  }
  await s.page.locator('.markers-panel').waitFor();
  const filter = s.page.locator('.markers-panel-action-filter input:visible, .panel .viewpane-filter input:visible').first();
  await filter.fill(text);
  return s.page.locator('.markers-panel .monaco-list-row');
}

/** The Problems row (filtered to `filter`) that contains `text`, once it is there. */
async function problem(filter: string, text: string | RegExp = filter, timeout = 60_000): Promise<Locator> {
  const rows = await problems(filter);
  const row = rows.filter({ hasText: text }).first();
  await row.waitFor({ timeout });
  return row;
}

/** How many Problems rows (filtered to `filter`) contain `text`. */
async function problemCount(filter: string, text: string | RegExp): Promise<number> {
  return (await problems(filter)).filter({ hasText: text }).count();
}

/** The severity icon of a Problems row: error, warning or info. */
async function severity(row: Locator): Promise<string> {
  const cls = await row.evaluate((el) => Array.from(el.querySelectorAll('[class*="codicon-"]')).map((e) => e.className).join(' '));
  const m = /codicon-(error|warning|info)\b/.exec(cls);
  return m ? m[1] : `unknown (${cls})`;
}

/** `warden db stats --json` of a database. */
function stats(db: string): { ecosystem: string; advisories: number; currentAsOf: string | null; mirror: string | null }[] {
  const out = execFileSync(WARDEN_BIN, ['--db', db, 'db', 'stats', '--json'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l));
}

test('a fresh install shows the advisories of requirements.txt with no manual step', async () => {
  await s.statusItem().waitFor({ timeout: 60_000 });
  await s.openFile('requirements.txt');
  // Downloaded from the loopback mirror in the background, then the manifest re-checked.
  const malicious = await problem('MAL-2023-1941', /pilllow/);
  assert.equal(await severity(malicious), 'error');
  const vulnerable = await problem('PYSEC-2023-74', /requests/);
  assert.equal(await severity(vulnerable), 'warning');
  assert.equal(await problemCount('advisories-missing', /advisory data/), 0, 'no "no data" note once the data is there');
  await s.screenshot('packages-fresh-install-advisories');
  // Stored with the mirror it came from, without its token; only PyPI was wanted.
  const rows = stats(DB_FIRST);
  const pypi = rows.find((r) => r.ecosystem === 'PyPI');
  assert.equal(pypi?.advisories, 5);
  assert.equal(pypi?.mirror, registry.osvWithoutToken);
  assert.deepEqual(
    rows.map((r) => r.ecosystem),
    ['PyPI'],
  );
});

test('Show Status says per ecosystem when the data was made current and where it came from', async () => {
  await s.runCommand('Warden: Show Status');
  const frame = await s.previewFrame('warden status');
  const body = frame.locator('body');
  await until('the advisory section', async () => /Repository configuration/.test(await body.innerText()));
  const text = await body.innerText();
  const mirror = registry.osvWithoutToken.replace(/[.]/g, '\\.');
  assert.match(
    text,
    new RegExp(`PyPI: 5 advisories \\(2 malicious\\) on \\d+ packages, current as of (just now|\\d+ minutes? ago) \\(downloaded from ${mirror}\\)`),
  );
  assert.match(text, new RegExp(`kept current in the background from ${mirror} \\(warden\\.packages\\.osvMirror\\)`));
  assert.doesNotMatch(text, /no advisory data/, text);
  assert.ok(!text.includes(registry.token), 'the mirror token is never shown');
  await s.screenshot('packages-show-status');
  await s.runCommand('View: Close All Editors');
});

test('with updates off, no data is one information on line 1 whose quick fix downloads it', async () => {
  // Another fresh database: read at start-up, so the extension offers a restart.
  editSettings('Machine', { 'warden.packages.update': false, 'warden.database.path': DB_SECOND });
  const ask = s.notification(/reads this setting at start-up/).first();
  await ask.waitFor({ timeout: 30_000 });
  await ask.locator('.monaco-button', { hasText: 'Restart' }).first().click();
  await s.openFile('requirements.txt');
  const note = await problem('advisories-missing', /No PyPI advisory data/);
  assert.match(await note.innerText(), /\[Ln 1, Col 1\]/);
  assert.equal(await severity(note), 'info');
  assert.equal(await problemCount('MAL-2023-1941', /pilllow/), 0, 'nothing flagged without data');
  assert.equal(stats(DB_SECOND).length, 0, 'nothing downloaded with updates off');
  await s.screenshot('packages-advisories-missing');

  // The Problems filter was changed above: filter to the note again before opening it.
  await s.openProblem(await problem('advisories-missing', /No PyPI advisory data/));
  const fix = await s.quickFix('Download PyPI advisories now');
  await s.screenshot('packages-download-quick-fix');
  await fix.click();
  // The server says how it went; the manifest is checked again.
  await s.notification(/warden: advisories updated: .*PyPI/).first().waitFor({ timeout: 60_000 });
  await problem('MAL-2023-1941', /pilllow/);
  await problem('PYSEC-2023-74', /requests/);
  await until('the note to go', async () => (await problemCount('advisories-missing', /advisory data/)) === 0);
  assert.equal(stats(DB_SECOND).find((r) => r.ecosystem === 'PyPI')?.mirror, registry.osvWithoutToken);
  await s.screenshot('packages-downloaded-by-quick-fix');
  await s.runCommand('Notifications: Clear All Notifications');
});

test("Download Advisories Now asks which ecosystems, this workspace's picked, and downloads", async () => {
  const before = stats(DB_SECOND).find((r) => r.ecosystem === 'PyPI')?.currentAsOf ?? '';
  await s.runCommand('Warden: Download Advisories Now');
  const rows = s.quickPickRows();
  const row = (label: string): Locator => rows.filter({ has: s.page.locator('.label-name', { hasText: new RegExp(`^${label.replace('.', '\\.')}$`) }) }).first();
  await row('PyPI').waitFor();
  const checked = (r: Locator): Promise<boolean> =>
    r.evaluate((el) => {
      if (el.getAttribute('aria-checked')) {
        return el.getAttribute('aria-checked') === 'true';
      }
      const box = el.querySelector('.quick-input-list-checkbox');
      if (box instanceof HTMLInputElement) {
        return box.checked;
      }
      return box?.getAttribute('aria-checked') === 'true' || box?.classList.contains('checked') === true;
    });
  await until('PyPI picked, npm not', async () => (await checked(row('PyPI'))) && !(await checked(row('npm'))));
  const described = async (label: string, text: RegExp): Promise<boolean> => text.test(await row(label).innerText());
  await until('PyPI described', () => described('PyPI', /manifests in this workspace · data from (just now|\d+ minutes? ago)/));
  await until('crates.io described', () => described('crates.io', /no data yet/));
  await s.screenshot('packages-download-now-pick');
  await s.page.locator('.quick-input-widget input[type="text"]').press('Enter');
  await s.notification(/warden: advisories updated: .*PyPI/).first().waitFor({ timeout: 60_000 });
  await until('PyPI made current again', () => (stats(DB_SECOND).find((r) => r.ecosystem === 'PyPI')?.currentAsOf ?? '') > before);
  assert.deepEqual(
    stats(DB_SECOND).map((r) => r.ecosystem),
    ['PyPI'],
    'only the ecosystem picked',
  );
  await s.screenshot('packages-download-now-done');
  await s.runCommand('Notifications: Clear All Notifications');
});

test('package metadata: an unknown package is an error, a deprecated one a warning with the reason', async () => {
  fs.writeFileSync(path.join(APP, 'requirements-ml.txt'), 'huggingface-cli-tools\n');
  fs.writeFileSync(path.join(APP, 'package.json'), '{\n  "name": "app",\n  "dependencies": {\n    "request": "^2.88.0"\n  }\n}\n');
  // Metadata on, and back to the first database. The server applies a changed setting
  // from the next analysis of a file on; restarting through the extension's question
  // (which comes once VS Code has read the change) checks the files with it from the
  // start.
  editSettings('Machine', { 'warden.packages.metadata': true, 'warden.database.path': DB_FIRST });
  const ask = s.notification(/reads this setting at start-up/).first();
  await ask.waitFor({ timeout: 30_000 });
  await ask.locator('.monaco-button', { hasText: 'Restart' }).first().click();
  await s.openFromExplorer('requirements-ml.txt');
  const unknown = await problem('package-unknown', /PyPI has no package named "huggingface-cli-tools"/);
  assert.equal(await severity(unknown), 'error');
  assert.match(await unknown.innerText(), /\[Ln 1, Col 1\]/);
  await s.openFromExplorer('package.json');
  const deprecated = await problem(
    'package-deprecated',
    'request is deprecated: request has been deprecated, see https://github.com/request/request/issues/3142',
  );
  assert.equal(await severity(deprecated), 'warning');
  assert.match(await deprecated.innerText(), /\[Ln 4, Col 5\]/);
  await s.screenshot('packages-metadata');
});
