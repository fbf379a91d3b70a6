// End-to-end scenarios in real VS Code (code-server + Chromium), in order, one
// screenshot per step under $E2E_OUT: warden starts and the status bar shows the active
// workspace; Problems shows the planted AWS key; its quick fix replaces the key with an
// environment variable on disk; the baseline fix (a server command run through the
// extension) hides the GitHub token; the trace viewer shows spans as a tree and a new scan
// live, pages to older spans and filters by kind; the status bar picker switches
// workspace; the workspaces view opens a system prompt in a tab and saving it reaches the
// server; a settings change reaches the server; a killed server is reported once with
// Show logs and comes back.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { FIXTURES, HISTORY_SPANS, prepare, Session, sleep, until, WARDEN_BIN, wardenPids, WORK } from './harness.ts';

const s = new Session();
const uploadPy = path.join(FIXTURES, 'alpha/scripts/3.00_upload.py');

before(async () => {
  prepare();
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
});

test('warden starts and the status bar shows the active workspace', async () => {
  await s.statusItem().waitFor({ timeout: 60_000 });
  await until('the status bar to name the active workspace', async () => (await s.statusItem().innerText()).includes('default'));
  // The start-up scan publishes findings for files nobody opened.
  await until('findings in the status bar counts', async () => /[1-9]/.test(await s.page.locator('#status\\.problems').innerText()));
  await s.screenshot('workbench');
});

test('Problems shows the planted AWS key from the start-up scan', async () => {
  await s.page.keyboard.press('Control+Shift+M');
  const panel = s.page.locator('.markers-panel');
  await panel.waitFor();
  const filter = s.page.locator('.viewpane-filter input, .markers-panel-action-filter input').first();
  await filter.fill('aws-access-key-id');
  const row = panel.locator('.monaco-list-row', { hasText: 'AWS access key ID' });
  await row.first().waitFor();
  const file = panel.locator('.monaco-list-row', { hasText: '3.00_upload.py' });
  await file.first().waitFor();
  await s.screenshot('problems-secret');
});

test('the quick fix replaces the key with an environment variable', async () => {
  const row = s.page.locator('.markers-panel .monaco-list-row', { hasText: 'AWS access key ID' }).first();
  await s.openProblem(row);
  await until('the editor with the upload script', async () => (await s.editorText()).includes('AWS_ACCESS_KEY_ID = "AKIA'));
  const fix = await s.quickFix('Replace with environment variable AWS_ACCESS_KEY_ID');
  await s.screenshot('quick-fix-menu');
  await fix.click();
  await until('the edit in the editor', async () => (await s.editorText()).includes('os.environ["AWS_ACCESS_KEY_ID"]'));
  await s.page.keyboard.press('Control+S');
  await until('the fix saved to disk', () => fs.readFileSync(uploadPy, 'utf8').includes('os.environ["AWS_ACCESS_KEY_ID"]'));
  const text = fs.readFileSync(uploadPy, 'utf8');
  assert.ok(!text.includes('AKIAQ3EGRB4XY7MNP2KD'), 'the key is gone from the file');
  assert.match(text, /^import os$/m, 'import os was added');
  await until('the finding to leave Problems', async () =>
    (await s.page.locator('.markers-panel .monaco-list-row', { hasText: 'AWS access key ID' }).count()) === 0,
  );
  await s.screenshot('quick-fix-applied');
  // The panel's filter is shared with the Output view, which a later step reads.
  await s.page.locator('.viewpane-filter input, .markers-panel-action-filter input').first().fill('');
});

test('the baseline fix runs its command through the extension and hides the finding', async () => {
  const panel = s.page.locator('.markers-panel');
  await s.page.keyboard.press('Control+Shift+M');
  await panel.waitFor();
  const filter = s.page.locator('.viewpane-filter input, .markers-panel-action-filter input').first();
  await filter.fill('github-pat');
  const row = panel.locator('.monaco-list-row', { hasText: 'GitHub personal access token' }).first();
  await s.openProblem(row);
  await until('the editor with beta/src/config.js', async () => (await s.editorText()).includes('ghp_'));
  const fix = await s.quickFix(/github-pat to the baseline/);
  await s.screenshot('baseline-fix-menu');
  await fix.click();
  const baseline = path.join(FIXTURES, 'beta/.warden-baseline.json');
  const entry = await until('the baseline file', () => {
    const json = fs.existsSync(baseline) ? JSON.parse(fs.readFileSync(baseline, 'utf8')) : undefined;
    return json?.findings?.find((f: { rule: string }) => f.rule === 'github-pat');
  });
  assert.equal(entry.path, 'src/config.js');
  assert.match(entry.hash, /^[0-9a-f]{64}$/);
  assert.ok(!fs.readFileSync(baseline, 'utf8').includes('ghp_'), 'the baseline never holds the secret');
  await until('the finding to leave Problems', async () =>
    (await panel.locator('.monaco-list-row', { hasText: 'GitHub personal access token' }).count()) === 0,
  );
  await s.screenshot('baseline-applied');
  await filter.fill('');
});

test('the trace viewer shows spans as a tree and follows a new scan live', async () => {
  await s.runCommand('Warden: Open Trace Viewer');
  const frame = await s.traceFrame();
  const scanRows = frame.locator('.span-row[data-name="workspace.scan"]');
  await until('scan spans in the viewer', async () => (await scanRows.count()) > 0);
  // Trees: every child row sits in a section headed by its root.
  const sections = await frame.locator('section.trace').count();
  assert.ok(sections > 0);
  await s.screenshot('trace-viewer');

  const root = frame.locator('.span-row.root').first();
  await root.click();
  await frame.locator('.details pre').first().waitFor();
  await s.screenshot('trace-viewer-details');

  const before = await frame.locator('.span-row[data-name="warden.scan.workspace"]').count();
  await s.runCommand('Warden: Scan Workspace');
  await s.pick('alpha');
  await until('the new command span, live', async () =>
    (await frame.locator('.span-row[data-name="warden.scan.workspace"]').count()) > before,
  );
  await s.notification(/warden: scanned alpha/).first().waitFor({ timeout: 30_000 });
  // The scan's own span finishes under the command span.
  const command = frame.locator('section.trace', { has: frame.locator('.span-row.root[data-name="warden.scan.workspace"]') }).first();
  await until('the scan span inside the command tree, finished', async () => {
    const row = command.locator('.span-row[data-name="workspace.scan"]');
    return (await row.count()) > 0 && !(await row.first().locator('.bar.running').count());
  });
  await s.screenshot('trace-viewer-live-scan');
  await s.runCommand('Notifications: Clear All Notifications');
});

test('the trace viewer pages to older spans and filters by kind', async () => {
  const frame = await s.traceFrame();
  const more = frame.locator('#more');
  await more.waitFor({ state: 'visible' });
  const rows = frame.locator('.span-row');
  const firstPage = await rows.count(); // one page of 100, plus spans that arrived live
  await more.click();
  await frame.locator('#end', { hasText: 'All spans loaded.' }).waitFor();
  const all = await rows.count();
  assert.ok(all > firstPage && all >= HISTORY_SPANS, `${all} rows after paging (first page ${firstPage})`);
  await s.screenshot('trace-viewer-paged');

  await frame.locator('#kind').selectOption('scan');
  await until('only scan spans', async () => {
    const kinds = await frame.locator('.span-row .kind').allInnerTexts();
    return kinds.length > 0 && kinds.every((k) => k === 'scan');
  });
  await s.screenshot('trace-viewer-filtered');
  await frame.locator('#kind').selectOption('');
});

test('the status bar picker switches the active workspace', async () => {
  await s.statusItem().click();
  await s.quickPickRows().filter({ hasText: 'beta' }).first().waitFor();
  const labels = await s.quickPickRows().allInnerTexts();
  for (const name of ['alpha', 'beta', 'gamma', 'notes', 'default']) {
    assert.ok(labels.some((l) => l.includes(name)), `${name} in the picker: ${labels.join(' | ')}`);
  }
  await s.screenshot('workspace-picker');
  await s.pick('beta');
  await until('beta in the status bar', async () => (await s.statusItem().innerText()).includes('beta'));
  await s.screenshot('workspace-switched');
});

test('the workspaces view edits a system prompt in a tab and saves it through the server', async () => {
  const view = await s.wardenView();
  const alpha = view.locator('.monaco-list-row', { hasText: 'alpha' }).first();
  await alpha.waitFor();
  await alpha.click();
  const prompt = view.locator('.monaco-list-row', { hasText: 'System prompt' }).first();
  await prompt.waitFor();
  assert.match(await prompt.innerText(), /from \.warden\.toml/);
  await prompt.click();
  await until('the prompt tab', async () => (await s.editorText()).includes('You review data-processing scripts'));
  await s.screenshot('system-prompt-tab');

  await s.page.locator('.editor-instance .view-lines').first().click();
  await s.page.keyboard.press('Control+A');
  await s.page.keyboard.type('Keep scripts small; explain every risk first.');
  await s.page.keyboard.press('Control+S');
  await until('the view to show the prompt set by command', async () =>
    /set by command: Keep scripts small/.test(await view.locator('.monaco-list-row', { hasText: 'System prompt' }).first().innerText()),
  );
  // The database has it too, as the headless CLI sees it.
  const listed = execFileSync(WARDEN_BIN, ['workspaces', '--json'], {
    env: { ...process.env, WARDEN_DB: path.join(WORK, 'warden.db') },
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; systemPrompt: string | null; systemPromptSource: string | null })
    .find((w) => w.name === 'alpha');
  assert.equal(listed?.systemPrompt, 'Keep scripts small; explain every risk first.');
  assert.equal(listed?.systemPromptSource, 'command');
  await s.screenshot('system-prompt-saved');
});

test('a settings change reaches the server through workspace/configuration', async () => {
  // Typed into the Settings editor: VS Code tells the extension, which notifies the
  // server; the server pulls the section and reports the prompt of `notes` (which has no
  // .warden.toml) as coming from settings.
  await s.runCommand('Preferences: Open Settings (UI)');
  await s.page.locator('.settings-editor').waitFor();
  await s.page.keyboard.type('warden.systemPrompt');
  const box = s.page.locator('.settings-editor .setting-item-contents textarea').first();
  await box.waitFor();
  await box.click();
  await s.page.keyboard.type('Notes are plain text; never run them.');
  await s.screenshot('settings-editor');
  await sleep(1000); // the Settings editor writes after a short pause
  await s.page.keyboard.press('Escape');
  const view = await s.wardenView();
  await view.locator('.monaco-list-row', { hasText: 'notes' }).first().click();
  await until('the prompt from settings on notes', async () => {
    const texts = await view.locator('.monaco-list-row', { hasText: 'System prompt' }).allInnerTexts();
    return texts.some((t) => /from settings: Notes are plain text/.test(t));
  });
  await s.screenshot('settings-reached-server');
});

test('a killed server is reported once with Show logs, and restarts', async () => {
  const root = s.server.pid as number;
  const pids = wardenPids(root);
  assert.equal(pids.length, 1, `one warden under code-server: ${pids}`);
  process.kill(pids[0], 'SIGKILL');
  const toast = s.notification(/stopped unexpectedly/).first();
  await toast.waitFor({ timeout: 30_000 });
  assert.ok(await toast.locator('a.monaco-button, .monaco-button', { hasText: 'Show logs' }).count(), 'a Show logs button');
  await sleep(600); // let the toast finish fading in
  await s.screenshot('server-crashed');
  await until('a new server', () => wardenPids(root).some((p) => p !== pids[0]), 30_000);
  await until('the status bar back to the active workspace', async () => (await s.statusItem().innerText()).includes('beta'));
  await sleep(500);
  assert.equal(await s.notification(/stopped unexpectedly/).count(), 1, 'one notification');
  await toast.locator('.monaco-button', { hasText: 'Show logs' }).first().click();
  await s.page.locator('.panel .viewpane-filter input').first().fill(''); // shared with Problems
  await s.page.locator('.panel .view-line', { hasText: /warden\s+exited\s+\(signal\s+SIGKILL\)/ }).first().waitFor();
  await s.screenshot('server-restarted-logs');
});
