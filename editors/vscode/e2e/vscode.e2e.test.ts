// End-to-end scenarios in real VS Code (code-server + Chromium), in order, one
// screenshot per step under $E2E_OUT: warden starts and the status bar shows the active
// workspace; Problems shows the planted AWS key; LLM actions against the scripted
// loopback provider (warden-mock-llm): an explanation streams into the Markdown panel
// with the key restored there while the provider only ever saw a placeholder, the same
// request again is a response cache hit, closing the panel while it streams cancels, the
// status bar and the Workspaces view show the tokens and cost, a rewrite from the palette
// with a typed instruction changes the file and Undo restores it, a *Fix with LLM*
// lightbulb applies its fix (Undo restores it), a reply bringing in a malicious package
// asks through VS Code's own dialog and Discard applies nothing; the key's quick fix
// replaces it with an environment variable on disk; the baseline fix (a server command
// run through the extension) hides the GitHub token; the trace viewer shows spans as a
// tree and a new scan live, pages to older spans, filters by kind, and shows guard
// verdicts, cache hits and the cancelled call; with Docker, a script runs from the editor
// title's Run button with its traceback in a terminal, again with an input file picked
// from the workspace with its report in the terminal, both in the Runs view, whose
// Re-run keeps the input and whose rows open the stored log, run statistics in a
// Markdown preview, and the trace viewer shows the run spans; run all with stop on
// failure counts the runs going in the status bar and stops after the failing group; the status bar picker switches workspace;
// the workspaces view opens a system prompt in a tab and saving it reaches the server; a
// settings change reaches the server; a repository's .warden.toml that would switch a
// secret rule off is held back (its lines marked, the user asked once) until Trust; a
// killed server is reported once with Show logs and comes back. Issue 18 ("Editors II"):
// the status bar names the active editor's workspace and reads words aloud; trace totals
// count each call once; highlighted explanation code blocks with Copy/Insert; the trace
// viewer in light, dark and high-contrast themes; the view title's unfiltered trace
// viewer; accessible tree rows; Show Status and the Getting Started walkthrough; LLM
// entries without a model; a missing binary (side bar, Remote settings tab); the
// keybindings; packaging (display name, icon, setting groups, a stripped linux-x64 .vsix).
// Issue 21 (LLM gateway), right after start-up: a new user is asked once, a terminal of a
// folder gets the gateway's variables and a curl call with only those reaches the mock
// provider with the key redacted, the status bar counts it, the trace viewer shows it
// with its client and filters by client; with warden.gateway.terminals off new terminals
// get nothing. Issue 22 (worktree collisions): a file changed, uncommitted, in two `git
// worktree`s of a repository gets a warning in Problems naming the other worktree and its
// branch; its quick fix (a command the extension runs itself) opens the diff of the two
// copies, says so when the other copy was deleted, and the warning goes with the worktree.
// Issue "Workspace symbols and code search": *Warden: Search Workspace* shows the
// matching lines live as one types (`path:line`, the line as label), previews the file
// while the pick is open and Enter opens it with the match selected; `/EXPR/` and the
// title button search by regular expression, an invalid one says why; *Go to Symbol in
// Workspace* finds a fixture's function through the server's `workspace/symbol`.
// Issue "Fix until green", with Docker: *Warden: Fix Until It Runs* on a failing script
// follows the loop in a notification (round 1's fix still fails, round 2's runs), opens
// the fix in a diff titled "... (green after 2 rounds)" with Accept/Discard in its title
// bar and a question; Accept applies it to the editor (VS Code then saves it) and the
// trace viewer shows a `fix.round` span per round with its outcome;
// Discard (the title bar button) leaves the file as it was.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import type { Frame } from 'playwright-core';
import {
  dockerProblem,
  editSettings,
  restoreSettings,
  FIXTURES,
  HISTORY_SPANS,
  llmSettings,
  MockLlm,
  prepare,
  Session,
  sleep,
  until,
  WARDEN_BIN,
  wardenPids,
  WORK,
  WORKSPACE_FILE,
} from './harness.ts';

const s = new Session();
let mock: MockLlm;
const uploadPy = path.join(FIXTURES, 'alpha/scripts/3.00_upload.py');
const KEY = 'AKIAQ3EGRB4XY7MNP2KD';
const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');
/** Why the run scenarios cannot run ('' when Docker and the runner image are there). */
const dockerMissing = dockerProblem();
const requireDocker = Boolean(process.env.WARDEN_REQUIRE_DOCKER);
const runSkip = dockerMissing && !requireDocker ? `SKIPPED: ${dockerMissing} and WARDEN_REQUIRE_DOCKER is unset` : false;
if (runSkip) {
  console.log(`run scenarios ${runSkip}`);
}
/** With WARDEN_REQUIRE_DOCKER set and no Docker, each run scenario fails at once, saying why. */
function needDocker(): void {
  assert.equal(dockerMissing, '', `WARDEN_REQUIRE_DOCKER is set but ${dockerMissing}`);
}

before(async () => {
  mock = await MockLlm.start();
  prepare(llmSettings(mock));
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
  await mock?.stop();
});

test('warden starts and the status bar shows the active workspace', async () => {
  await s.statusItem().waitFor({ timeout: 60_000 });
  await until('the status bar to name the active workspace', async () => (await s.statusItem().innerText()).includes('default'));
  // The start-up scan publishes findings for files nobody opened.
  await until('findings in the status bar counts', async () => /[1-9]/.test(await s.page.locator('#status\\.problems').innerText()));
  await s.screenshot('workbench');
});

/** Types a command line into the visible terminal and runs it. */
async function typeInTerminal(line: string): Promise<void> {
  await s.page.locator('.terminal-wrapper .xterm:visible').first().click();
  await s.page.keyboard.type(line);
  await s.page.keyboard.press('Enter');
}

/** Opens a terminal in a workspace folder (multi-root: VS Code asks which). */
async function terminalIn(folder: string): Promise<void> {
  const before = await s.page.locator('.terminal-wrapper .xterm').count();
  await s.runAndPick('Terminal: Create New Terminal', new RegExp(`^${folder}$`));
  await until('the new terminal', async () => (await s.page.locator('.terminal-wrapper .xterm').count()) > before);
}

/** A file a terminal writes, once it has `lines` lines. */
async function written(file: string, lines: number): Promise<string[]> {
  const found = await until<string[] | undefined>(`${path.basename(file)} from the terminal`, () => {
    try {
      const text = fs.readFileSync(file, 'utf8').split('\n').slice(0, lines);
      return text.length === lines && fs.readFileSync(file, 'utf8').endsWith('\n') ? text : undefined;
    } catch {
      return undefined;
    }
  });
  return found as string[];
}

test("a new user's terminals reach the LLM gateway; the call shows redacted, by client, and is counted", async () => {
  // Asked once, before any terminal gets the variables.
  const question = s.notification(/Send the AI tools you run in this workspace's terminals through warden's gateway\?/).first();
  try {
    await question.waitFor({ timeout: 30_000 });
  } catch {
    // An information toast hides after a while; the question waits in the notification centre.
    await s.runCommand('Notifications: Show Notifications');
    await question.waitFor();
  }
  await sleep(600); // let the toast finish fading in
  await s.screenshot('gateway-question');
  await question.locator('.monaco-button', { hasText: /^Yes$/ }).first().click();
  // The extension's item `warden.gateway` (other items may share its icon).
  const item = s.page.locator('[id="warden.warden.warden.gateway"]');
  await until('the gateway item: no call yet, terminals use it', async () =>
    /gateway 0/.test(await item.innerText()) && /: 0 calls today; new terminals use it\./.test(await s.ariaLabel(item)),
  );

  // A terminal of the gamma folder gets the four variables, for gamma's workspace.
  await terminalIn('gamma');
  const envFile = path.join(WORK, 'gateway-env.txt');
  await typeInTerminal(`printf '%s\\n' "$OPENAI_BASE_URL" "$OPENAI_API_KEY" "$ANTHROPIC_BASE_URL" "$ANTHROPIC_API_KEY" > ${envFile}`);
  const [openaiBase, openaiKey, anthropicBase, anthropicKey] = await written(envFile, 4);
  assert.match(openaiBase, /^http:\/\/127\.0\.0\.1:\d+\/w\/gamma\/v1$/);
  assert.equal(anthropicBase, openaiBase.replace(/\/v1$/, ''));
  assert.ok(openaiKey.length >= 16, `a token: ${openaiKey}`);
  assert.equal(anthropicKey, openaiKey);

  // A call with nothing but those variables; the provider behind the gateway is the mock.
  await mock.script({ text: 'Rotate __WARDEN_SECRET_1__ now.', chunk: 8 });
  const before = (await mock.requests()).length;
  const replyFile = path.join(WORK, 'gateway-reply.txt');
  const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `is ${KEY} safe to commit?` }] });
  await typeInTerminal(
    `curl -sN "$OPENAI_BASE_URL/chat/completions" -H "Authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' -d '${body}' > ${replyFile}; echo >> ${replyFile}`,
  );
  await until('the streamed reply', () => fs.existsSync(replyFile) && fs.readFileSync(replyFile, 'utf8').includes('[DONE]'));
  const reply = fs.readFileSync(replyFile, 'utf8');
  // The placeholder the provider answered with is the key again in what the tool reads.
  assert.ok(reply.includes(KEY) && !reply.includes('__WARDEN_SECRET_1__'), `the key restored in the reply: ${reply}`);
  const sent = (await mock.requests()).slice(before);
  assert.equal(sent.length, 1, 'one request reached the provider');
  assert.ok(!sent[0].body.includes(KEY), 'the provider never saw the key');
  assert.match(sent[0].body, /__WARDEN_SECRET_1__/);
  assert.ok(!sent[0].headers.some(([, v]) => v.includes(openaiKey)), 'the gateway token never goes upstream');
  await s.screenshot('gateway-terminal-curl');

  // Counted in the status bar.
  await until('one gateway call today', async () => /gateway 1/.test(await item.innerText()));
  assert.match(await s.ariaLabel(item), /^warden LLM gateway: 1 call today; new terminals use it\./);

  // The trace viewer, filtered to gateway calls: the call with its client, redacted.
  const client = `curl/${/^curl (\S+)/.exec(execFileSync('curl', ['--version'], { encoding: 'utf8' }))?.[1]}`;
  await s.runCommand('Warden: Show LLM Gateway Calls');
  const frame = await s.traceFrame();
  const call = frame.locator(`.span-row.gateway-call[data-client="${client}"]`).first();
  await call.waitFor();
  assert.equal(await call.locator('.gateway').innerText(), 'gateway');
  assert.equal(await call.locator('.client').innerText(), client);
  assert.equal(await frame.locator('#caller').inputValue(), 'origin:gateway');
  const roots = frame.locator('.span-row.root');
  assert.equal(await roots.count(), await frame.locator('.span-row.root.gateway-call').count(), 'only gateway calls');
  const tree = frame.locator('section.trace', { has: call });
  await tree.locator('.span-row[data-name="guard.redact"] .note', { hasText: 'secretsRedacted 1' }).waitFor();
  await call.click();
  const input = tree.locator('.details pre').first();
  await input.waitFor();
  assert.match(await input.innerText(), /"client": "curl\//);
  await s.screenshot('gateway-trace-viewer');

  // The filter by client: the clients seen are choices; warden's own actions exclude the call.
  await frame.locator('#caller').selectOption(`client:${client}`);
  await until('only the curl call', async () => (await roots.count()) > 0 && (await roots.count()) === (await frame.locator(`.span-row.root[data-client="${client}"]`).count()));
  await frame.locator('#caller').selectOption('origin:warden');
  await until("only warden's own spans", async () => (await roots.count()) > 0 && (await frame.locator('.span-row.gateway-call').count()) === 0);
  await s.screenshot('gateway-trace-viewer-own');
  await frame.locator('#caller').selectOption('');
  await until('every span again', async () => (await frame.locator('.span-row.gateway-call').count()) > 0 && (await frame.locator('.span-row.root:not(.gateway-call)').count()) > 0);

  // Turned off (in the remote machine's settings, which code-server's extension host
  // watches): new terminals get nothing.
  const old = editSettings('Machine', { 'warden.gateway.terminals': false });
  try {
    await until('the item saying terminals do not use it', async () => /new terminals do not use it/.test(await s.ariaLabel(item)));
    await terminalIn('gamma');
    const offFile = path.join(WORK, 'gateway-env-off.txt');
    await typeInTerminal(`printf '[%s]\\n' "$OPENAI_BASE_URL" > ${offFile}`);
    assert.deepEqual(await written(offFile, 1), ['[]']);
  } finally {
    restoreSettings('Machine', old);
  }
  await until('terminals using it again', async () => /new terminals use it/.test(await s.ariaLabel(item)));
  await s.runCommand('Terminal: Kill All Terminals');
  await s.runCommand('View: Close All Editors');
});

/** The input of the open quick pick (palette, Search Workspace, Go to Symbol). */
function quickInput() {
  return s.page.locator('.quick-input-widget input[type="text"]');
}

/** Runs *Warden: Search Workspace* and waits for its pick (not the palette closing). */
async function openSearch(): Promise<void> {
  await s.runCommand('Warden: Search Workspace');
  await s.page.locator('.quick-input-widget .quick-input-title', { hasText: 'Search Workspace' }).first().waitFor();
  await quickInput().waitFor({ state: 'visible' });
}

/**
 * Types `query` into the open Search Workspace pick until a row shows `where`
 * (`path:line`): the start-up scan builds the index, so an early search may find
 * nothing yet; typing again asks again.
 */
async function searchUntil(query: string, where: string): Promise<void> {
  const row = s.quickPickRows().filter({ hasText: where });
  await until(`${where} in the search results for ${query}`, async () => {
    if ((await row.count()) > 0) {
      return true;
    }
    await quickInput().fill('');
    await quickInput().fill(query);
    return row
      .first()
      .waitFor({ timeout: 5_000 })
      .then(() => true)
      .catch(() => false);
  }, 90_000);
}

// Before Problems is filtered: the palette's Escape would clear that filter, which the
// LLM scenarios below rely on.
test('Search Workspace shows live results with path:line, previews the match, and Enter opens it there', async () => {
  await s.runCommand('View: Close All Editors');
  await openSearch();
  await searchUntil('rows, total', 'scripts/2.00_report.py:9');
  const row = s.quickPickRows().filter({ hasText: 'scripts/2.00_report.py:9' }).first();
  // The label is the matching line without its indentation.
  assert.match(await row.locator('.label-name').first().innerText(), /^print\(f"\{len\(values\)\} rows, total \{sum\(values\)\}"\)/);
  await until('the title counting the match', async () =>
    /1 matching line in 1 file/.test(await s.page.locator('.quick-input-widget .quick-input-title').innerText()),
  );
  // The active row previews its file (a preview tab) while the pick stays open.
  await s.page.locator('.tabs-container .tab', { hasText: '2.00_report.py' }).first().waitFor();
  assert.ok(await quickInput().isVisible(), 'the pick stays open while previewing');
  await s.screenshot('search-workspace');
  await quickInput().press('Enter');
  await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  await s.page.locator('.tabs-container .tab.active', { hasText: '2.00_report.py' }).first().waitFor();
  // The match is selected: the cursor at its end, 11 characters selected.
  await s.page.locator('.statusbar-item', { hasText: /Ln 9, Col 38 \(11 selected\)/ }).first().waitFor();
  await s.screenshot('search-workspace-opened');
  await s.runCommand('View: Close All Editors');
});

test('Search Workspace: regular expressions by /EXPR/ or the title button; an invalid one says why', async () => {
  await openSearch();
  await quickInput().fill('/def\\s+(/');
  const error = s.quickPickRows().filter({ hasText: 'unclosed group' });
  await error.first().waitFor();
  await until('the error in the title', async () =>
    /invalid regular expression/.test(await s.page.locator('.quick-input-widget .quick-input-title').innerText()),
  );
  await s.screenshot('search-invalid-regex');
  await quickInput().fill('/def\\s+upl/');
  await s.quickPickRows().filter({ hasText: 'scripts/3.00_upload.py:7' }).first().waitFor();
  // Without slashes it is literal text, until the button switches to expressions.
  await quickInput().fill('def\\s+upl');
  await until('no rows for the literal text', async () =>
    /no matches/.test(await s.page.locator('.quick-input-widget .quick-input-title').innerText()),
  );
  await s.page.locator('.quick-input-widget .action-label.codicon-whole-word').first().click();
  await s.page.locator('.quick-input-widget .action-label.codicon-regex').first().waitFor();
  await s.quickPickRows().filter({ hasText: 'scripts/3.00_upload.py:7' }).first().waitFor();
  assert.match(await s.page.locator('.quick-input-widget .quick-input-title').innerText(), /\(regex\)/);
  await s.page.keyboard.press('Escape');
  await s.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
});

test('Go to Symbol in Workspace finds a fixture definition through the server', async () => {
  await s.runCommand('Go to Symbol in Workspace');
  await quickInput().waitFor({ state: 'visible' });
  const row = s.quickPickRows().filter({ hasText: '3.00_upload.py' }).filter({ hasText: 'upload' });
  await until('upload among the workspace symbols', async () => {
    if ((await row.count()) > 0) {
      return true;
    }
    await quickInput().fill('#');
    await quickInput().fill('#upload');
    return row
      .first()
      .waitFor({ timeout: 5_000 })
      .then(() => true)
      .catch(() => false);
  }, 60_000);
  await s.screenshot('workspace-symbols');
  await until('the upload row selected', async () =>
    /3\.00_upload\.py/.test(await s.page.locator('.quick-input-widget .monaco-list-row.focused').first().innerText()),
  );
  await quickInput().press('Enter');
  await s.page.locator('.tabs-container .tab.active', { hasText: '3.00_upload.py' }).first().waitFor();
  await s.page.locator('.statusbar-item', { hasText: /Ln 7, Col \d+/ }).first().waitFor();
  await s.runCommand('View: Close All Editors');
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

/** Opens upload.py from Problems (still filtered to the AWS key) with the cursor on the key. */
async function cursorOnTheKey(): Promise<void> {
  if (!(await s.page.locator('.markers-panel').isVisible())) {
    await s.page.keyboard.press('Control+Shift+M');
  }
  const row = s.page.locator('.markers-panel .monaco-list-row', { hasText: 'AWS access key ID' }).first();
  await s.openProblem(row);
  await until('the editor with the upload script', async () => (await s.editorText()).includes(`AWS_ACCESS_KEY_ID = "${KEY}"`));
}

test('explain streams into the Markdown panel; the key is restored there and never left', async () => {
  await cursorOnTheKey();
  const reply =
    'The constant `AWS_ACCESS_KEY_ID` holds the access key __WARDEN_SECRET_1__, hard-coded in the script.\n\n' +
    'Anyone who can read the repository can use it. Rotate it, then read it from the environment:\n\n' +
    '```python\nimport os\nAWS_ACCESS_KEY_ID = os.environ["AWS_ACCESS_KEY_ID"]\n```\n';
  // About 60 chunks, 150 ms apart: long enough to watch, even when the panel's webview
  // takes a few seconds to load.
  await mock.script({ text: reply, chunk: 5, delayMs: 150 });
  const before = (await mock.requests()).length;
  await s.runCommand('Warden: Explain with LLM');
  const frame = await s.explainFrame();
  const content = frame.locator('#explain');
  const body = frame.locator('body');
  // Watch it stream: several redraws while streaming, each longer than the last.
  const seen: { updates: number; text: string }[] = [];
  let midShot = false;
  const deadline = Date.now() + 60_000;
  while ((await body.getAttribute('data-state')) !== 'done') {
    assert.ok(Date.now() < deadline, 'the explanation did not finish within 60 s');
    if ((await body.getAttribute('data-state')) === 'streaming') {
      const updates = Number(await content.getAttribute('data-updates'));
      const text = await content.innerText();
      if (text && (seen.length === 0 || seen[seen.length - 1].updates !== updates)) {
        seen.push({ updates, text });
      }
      if (!midShot && seen.length >= 3) {
        midShot = true;
        await s.screenshot('explain-streaming');
      }
    }
    await sleep(100);
  }
  const redraws = await content.getAttribute('data-updates');
  assert.ok(seen.length >= 3, `only ${seen.length} states seen while streaming (${redraws} redraws in all)`);
  for (let i = 1; i < seen.length; i++) {
    assert.ok(seen[i].text.length >= seen[i - 1].text.length, `update ${i} is shorter than the one before`);
  }
  assert.ok(!seen[0].text.includes('Rotate it'), `the first state seen was already whole: ${seen[0].text}`);
  const shown = await content.innerText();
  assert.ok(shown.includes(`holds the access key ${KEY}, hard-coded`), `the key is restored in the panel: ${shown}`);
  assert.ok(shown.includes('Rotate it'), shown);
  assert.ok(await content.locator('pre code').count(), 'the code block is rendered as code');
  const status = await frame.locator('#status').innerText();
  assert.match(status, /^local\/gpt-4o-mini · \d+→\d+ tokens · \$0\.\d+ · \d+ ms$/);
  assert.match(await frame.locator('#title').innerText(), /^Explain: 3\.00_upload\.py, the definition or line at line 4$/);

  // The provider got the placeholder, never the key.
  const sent = await mock.requests();
  assert.equal(sent.length, before + 1, 'one request reached the provider');
  const last = sent[sent.length - 1];
  assert.match(last.path, /\/chat\/completions$/);
  assert.ok(!last.body.includes(KEY), 'the key left the machine');
  assert.ok(last.body.includes('__WARDEN_SECRET_1__'), 'the placeholder was sent instead');
  assert.ok(last.body.includes('gpt-4o-mini'));
  await s.screenshot('explain-done');
});

test('the same explanation again is a response cache hit: nothing is sent', async () => {
  const frame = await s.explainFrame();
  const first = await frame.locator('#explain').getAttribute('data-request-id');
  const before = (await mock.requests()).length;
  await cursorOnTheKey();
  // The contributed keybinding (Ctrl+Alt+E) instead of the palette.
  await s.page.locator('.editor-instance .monaco-editor.focused').first().waitFor();
  await s.page.keyboard.press('Control+Alt+E');
  await until('a new, finished explanation', async () =>
    (await frame.locator('#explain').getAttribute('data-request-id')) !== first &&
    (await frame.locator('body').getAttribute('data-state')) === 'done',
  );
  assert.equal(await frame.locator('body').getAttribute('data-cached'), 'true');
  assert.match(await frame.locator('#status').innerText(), /· response cache hit ·/);
  assert.ok((await frame.locator('#explain').innerText()).includes(KEY));
  assert.equal((await mock.requests()).length, before, 'nothing reached the provider');
  await s.screenshot('explain-cache-hit');
});

test('closing the panel while the reply streams cancels the request', async () => {
  await cursorOnTheKey();
  // Lines 7-9 (the function): a different prompt, so not from the cache.
  await s.page.keyboard.press('Control+G');
  const go = s.page.locator('.quick-input-widget input[type="text"]');
  await go.fill(':8');
  await go.press('Enter');
  await mock.script({ text: 'slow '.repeat(300), chunk: 3, delayMs: 100 });
  const before = (await mock.requests()).length;
  await s.runCommand('Warden: Explain with LLM');
  const frame = await s.explainFrame();
  await until('the slow reply to stream', async () =>
    (await frame.locator('body').getAttribute('data-state')) === 'streaming' &&
    (await frame.locator('#title').innerText()).includes('line 8'),
  );
  assert.equal((await mock.requests()).length, before + 1);
  await s.screenshot('explain-slow-streaming');
  const tab = s.page.locator('.tabs-container .tab', { hasText: 'warden: explain' }).first();
  await tab.hover();
  await tab.locator('.tab-actions .action-label').first().click();
  await s.page.locator('.statusbar-item', { hasText: 'warden: explain cancelled' }).first().waitFor({ timeout: 10_000 });
  assert.equal(await s.page.locator('.tabs-container .tab', { hasText: 'warden: explain' }).count(), 0, 'the panel is closed');
  await s.screenshot('explain-closed-cancelled');
});

test('the status bar names the workspace of the active editor, the active one with no file open', async () => {
  // The server's active workspace is `default`; the LLM requests above went to alpha,
  // the workspace of the file being edited: that is what the status bar says.
  await s.openFile('3.00_upload.py');
  await until('alpha in the status bar', async () => /^\s*alpha\b/.test(await s.statusItem().innerText()));
  // Read aloud: words, not icons or `k`-abbreviations.
  const label = await s.ariaLabel(s.statusItem());
  assert.match(label, /^warden: workspace alpha \(this file\), active workspace default/, label);
  assert.doesNotMatch(label, /\$\(|shield|sparkle/, label);
  await s.screenshot('status-bar-file-workspace');
  await s.runCommand('View: Close All Editors');
  await until('the active workspace with no file open', async () => /^\s*default\b/.test(await s.statusItem().innerText()));
  assert.match(await s.ariaLabel(s.statusItem()), /^warden: workspace default \(active\)/);
  await s.screenshot('status-bar-active-workspace');
  await s.openFile('3.00_upload.py');
  await until('alpha again', async () => /^\s*alpha\b/.test(await s.statusItem().innerText()));
});

test('the status bar and the Workspaces view show the tokens and cost', async () => {
  await until('tokens and cost in the status bar', async () => /\b\d+(\.\d)?k? tok · \$0\.\d+/.test(await s.statusItem().innerText()));
  await s.screenshot('status-bar-usage');

  const view = await s.wardenView();
  const alpha = view.locator('.monaco-list-row', { hasText: 'alpha' }).first();
  await alpha.click();
  const usage = view.locator('.monaco-list-row', { hasText: 'LLM usage' }).first();
  await usage.waitFor();
  // Two answered requests (one from the cache) and the cancelled one, which the server
  // may record just after it answered: ask again until it is there.
  await until('the usage of alpha', async () => {
    if (/3 requests · [\d.]+k? tokens · \$0\.\d+ · cache 33%/.test(await usage.innerText())) {
      return true;
    }
    await s.runCommand('Warden: Refresh Workspaces');
    await sleep(500);
    return false;
  });
  await s.screenshot('workspaces-view-usage');
  await alpha.click(); // collapsed again, as later steps expect
});

/** The LLM edit's preview: its diff editor and its question; answers `choice`. */
async function answerPreview(choice: 'Accept' | 'Discard', shot?: string): Promise<void> {
  const diff = s.page.locator('.tabs-container .tab', { hasText: 'proposed by the LLM' }).first();
  await diff.waitFor();
  const question = s.notification(/proposes changes to .*Apply them\?/).first();
  await question.waitFor();
  if (shot) {
    await sleep(600); // let the toast finish fading in
    await s.screenshot(shot);
  }
  await question.locator('.monaco-button', { hasText: choice }).first().click();
  await until('the preview closed', async () => (await s.page.locator('.tabs-container .tab', { hasText: 'proposed by the LLM' }).count()) === 0);
}

test('rewrite from the palette: a diff preview; Discard applies nothing, Accept applies, Undo restores', async () => {
  await cursorOnTheKey();
  const original = fs.readFileSync(uploadPy, 'utf8');
  const reply = {
    text: 'Added a type annotation.\n```python\nAWS_ACCESS_KEY_ID: str = "__WARDEN_SECRET_1__"\n```\n',
    chunk: 4,
  };
  const input = s.page.locator('.quick-input-widget input[type="text"]');
  const rewrite = async (): Promise<void> => {
    await s.runCommand('Warden: Rewrite Selection with LLM');
    await input.waitFor({ state: 'visible' });
    await s.page.locator('.quick-input-widget', { hasText: 'Rewrite 3.00_upload.py, line 4' }).waitFor();
    await input.fill('add a type annotation');
  };
  await mock.script(reply);
  await rewrite();
  await input.press('Enter');
  // The diff editor's right side holds the proposal, with the key restored locally.
  await until('the proposal in the diff', async () => (await s.page.locator('.editor-instance .view-lines').allInnerTexts()).some((t) => t.replace(/\u00a0/g, ' ').includes(`AWS_ACCESS_KEY_ID: str = "${KEY}"`)));
  await answerPreview('Discard', 'rewrite-preview');
  await s.notification(/warden: rewrite: nothing applied: .*Discarded in the preview/).first().waitFor();
  await cursorOnTheKey();
  assert.ok(!(await s.editorText()).includes('AWS_ACCESS_KEY_ID: str'), 'Discard applied nothing');
  await s.runCommand('Notifications: Clear All Notifications');

  await mock.script(reply);
  await rewrite();
  await s.screenshot('rewrite-instruction');
  await input.press('Enter');
  await answerPreview('Accept');
  await until('the rewritten line in the editor', async () => (await s.editorText()).includes(`AWS_ACCESS_KEY_ID: str = "${KEY}"`));
  await s.page.locator('.statusbar-item', { hasText: 'warden: rewrite applied' }).first().waitFor();
  const body = (await mock.requests()).at(-1)?.body ?? '';
  assert.ok(body.includes('add a type annotation'), 'the instruction was sent');
  assert.ok(!body.includes(KEY), 'the key left the machine');
  assert.equal(fs.readFileSync(uploadPy, 'utf8'), original, 'not saved: only the editor changed');
  await s.screenshot('rewrite-applied');

  await s.page.locator('.editor-instance .view-lines').first().click();
  await s.page.keyboard.press('Control+Z');
  await until('the original line back', async () => (await s.editorText()).includes(`AWS_ACCESS_KEY_ID = "${KEY}"`));
  assert.ok(!(await s.editorText()).includes('AWS_ACCESS_KEY_ID: str'));
  await until('the tab to be clean again', async () => (await s.page.locator('.tabs-container .tab.active.dirty').count()) === 0);
  await s.screenshot('rewrite-undone');
});

test('a Fix with LLM lightbulb runs through the extension and applies the fix; Undo restores it', async () => {
  const filter = s.page.locator('.viewpane-filter input, .markers-panel-action-filter input').first();
  await filter.fill('shell-pipe-to-shell');
  const row = s.page.locator('.markers-panel .monaco-list-row', { hasText: 'Risky: runs a downloaded script' }).first();
  await s.openProblem(row);
  await until('the editor with the upload script', async () => (await s.editorText()).includes('curl -fsSL'));
  await mock.script({
    text: [
      'Run the vendored installer instead of piping a download into a shell.',
      '```python',
      'def upload(path: str) -> None:',
      '    subprocess.run(["sh", "scripts/install.sh"], check=True)',
      '    print(f"uploading {path} with key id ending {AWS_ACCESS_KEY_ID[-4:]}")',
      '```',
      '',
    ].join('\n'),
    chunk: 8,
  });
  const fix = await s.quickFix(/^Fix with LLM: Risky: runs a downloaded script/);
  await s.screenshot('llm-fix-lightbulb');
  await fix.click();
  await answerPreview('Accept');
  await until('the fixed line in the editor', async () => (await s.editorText()).includes('subprocess.run(["sh", "scripts/install.sh"], check=True)'));
  assert.ok(!(await s.editorText()).includes('curl -fsSL'));
  await s.page.locator('.statusbar-item', { hasText: 'warden: fix applied' }).first().waitFor();
  const body = (await mock.requests()).at(-1)?.body ?? '';
  assert.ok(body.includes('Risky: runs a downloaded script'), 'the diagnostic was sent');
  assert.ok(!body.includes(KEY), 'the key left the machine');
  await s.screenshot('llm-fix-applied');
  await s.page.locator('.editor-instance .view-lines').first().click();
  await s.page.keyboard.press('Control+Z');
  await until('the original line back', async () => (await s.editorText()).includes('curl -fsSL'));
  await until('the tab to be clean again', async () => (await s.page.locator('.tabs-container .tab.active.dirty').count()) === 0);
  await filter.fill('aws-access-key-id'); // as the next steps expect
});

test('a reply bringing in a malicious package asks first; Discard applies nothing', async () => {
  await cursorOnTheKey();
  await mock.script({
    text: '```python\nimport tensorfllow\nAWS_ACCESS_KEY_ID = "__WARDEN_SECRET_1__"\n```\n',
    chunk: 8,
  });
  await s.runCommand('Warden: Rewrite Selection with LLM');
  const input = s.page.locator('.quick-input-widget input[type="text"]');
  await s.page.locator('.quick-input-widget', { hasText: 'Rewrite 3.00_upload.py, line 4' }).waitFor();
  await input.fill('import the model library');
  await input.press('Enter');
  // The server's window/showMessageRequest, shown by VS Code itself.
  const question = s.notification(/The reply brings in a malicious package: tensorfllow/).first();
  await question.waitFor();
  await sleep(600); // let the toast finish fading in
  await s.screenshot('llm-malicious-package-question');
  await question.locator('.monaco-button', { hasText: 'Discard' }).first().click();
  await s.notification(/warden: rewrite: nothing applied: .*Not applied: the user declined/).first().waitFor();
  assert.ok(!(await s.editorText()).includes('import tensorfllow'), 'nothing was applied');
  assert.equal(await s.page.locator('.tabs-container .tab.active.dirty').count(), 0);
  await s.screenshot('llm-malicious-package-discarded');
  await s.runCommand('Notifications: Clear All Notifications');
});

test('the quick fix replaces the key with an environment variable', async () => {
  const row = s.page.locator('.markers-panel .monaco-list-row', { hasText: 'AWS access key ID' }).first();
  await s.openProblem(row);
  await until('the editor with the upload script', async () => (await s.editorText()).includes('AWS_ACCESS_KEY_ID = "AKIA'));
  const fix = await s.quickFix('Replace with environment variable AWS_ACCESS_KEY_ID');
  // The server's LLM actions are lightbulbs too.
  await s.page.locator('.action-widget .monaco-list-row', { hasText: 'Fix with LLM: ' }).first().waitFor();
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

test('explanation code blocks are highlighted; Copy and Insert put a block to use', async () => {
  // upload.py, its key replaced by the step before, with the cursor on line 4.
  await until('the fixed upload script', async () => (await s.editorText()).includes('os.environ["AWS_ACCESS_KEY_ID"]'));
  await mock.script({
    text: 'Reads the key from the environment:\n\n```python\nimport os\nKEY = os.environ["KEY"]  # never in the source\nn = 42\n```\n',
    chunk: 16,
  });
  await s.runCommand('Warden: Explain with LLM');
  const frame = await s.explainFrame();
  await until('the explanation', async () =>
    (await frame.locator('body').getAttribute('data-state')) === 'done' && (await frame.locator('#explain').innerText()).includes('never in the source'),
  );
  const block = frame.locator('#explain pre').first();
  await block.locator('.tok-keyword', { hasText: /^import$/ }).waitFor();
  await block.locator('.tok-string', { hasText: '"KEY"' }).first().waitFor();
  await block.locator('.tok-comment', { hasText: '# never in the source' }).first().waitFor();
  await block.locator('.tok-number', { hasText: '42' }).first().waitFor();
  const colours = await block.evaluate((pre) => {
    const kw = pre.querySelector('.tok-keyword') as HTMLElement;
    return { keyword: getComputedStyle(kw).color, plain: getComputedStyle(pre).color };
  });
  assert.notEqual(colours.keyword, colours.plain, 'keywords are coloured');
  await block.hover();
  await s.screenshot('explain-highlighted');
  const copy = block.locator('button.code-copy');
  await copy.click();
  await until('Copied on the button', async () => (await copy.innerText()) === 'Copied');
  const copied = await s.page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, 'import os\nKEY = os.environ["KEY"]  # never in the source\nn = 42\n');
  // Insert: at the cursor of the explained file, one undoable edit.
  await block.locator('button.code-insert').click();
  await until('the block in the editor', async () => (await s.editorText()).includes('KEY = os.environ["KEY"]'));
  await s.screenshot('explain-inserted');
  await s.page.locator('.editor-instance .monaco-editor.focused').first().waitFor();
  await s.page.keyboard.press('Control+Z');
  await until('the file as it was', async () => !(await s.editorText()).includes('os.environ["KEY"]'));
  await until('the tab to be clean again', async () => (await s.page.locator('.tabs-container .tab.dirty').count()) === 0);
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
  await s.runAndPick('Warden: Scan Workspace', 'alpha');
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

test('the trace viewer shows guard verdicts, response cache hits and the cancelled call', async () => {
  const frame = await s.traceFrame();
  await frame.locator('#kind').selectOption('guard');
  await until('only guard spans', async () => {
    const kinds = await frame.locator('.span-row .kind').allInnerTexts();
    return kinds.length > 0 && kinds.every((k) => k === 'guard');
  });
  const redact = frame.locator('.span-row[data-name="guard.redact"] .note', { hasText: 'secretsRedacted 1' });
  await redact.first().waitFor();
  await frame.locator('.span-row[data-name="guard.exclude"] .note', { hasText: 'allowed' }).first().waitFor();
  await s.screenshot('trace-viewer-guards');

  await frame.locator('#kind').selectOption('llm');
  await frame.locator('.span-row .note.cache-hit', { hasText: 'response cache hit' }).first().waitFor();
  await frame.locator('.span-row .badge.cancelled').first().waitFor();
  assert.ok((await frame.locator('.span-row .kind', { hasText: 'llm' }).count()) >= 3, 'the llm spans of every request');
  await s.screenshot('trace-viewer-llm');
  await frame.locator('#kind').selectOption('');
});

test('dark and high-contrast themes: legend chips, run badges, 1-10 s bars and the tab icon show', async () => {
  await s.runCommand('Warden: Open Trace Viewer');
  const frame = await s.traceFrame();
  const tabIcon = (title: string): Promise<string> =>
    s.page.locator('.tabs-container .tab', { hasText: title }).first().evaluate((tab) => {
      for (const el of [tab, ...tab.querySelectorAll('*')]) {
        for (const img of [getComputedStyle(el, '::before').backgroundImage, getComputedStyle(el).backgroundImage]) {
          if (img && img.includes('warden')) {
            return img;
          }
        }
      }
      return '';
    });
  // Light theme: the dark shield; dark theme: the light one, not black on black.
  await s.setTheme('Light Modern');
  await until('the light-theme tab icon', async () => /warden-light\.svg/.test(await tabIcon('warden traces')));
  await s.setTheme('Dark Modern');
  await until('the dark-theme tab icon', async () => /warden-dark\.svg/.test(await tabIcon('warden traces')));
  await s.screenshot('trace-viewer-dark');
  /** Contrast of an element's background against the page (WCAG ratio), in the frame. */
  const contrast = (selector: string, create?: string): Promise<number> =>
    frame.evaluate(
      ({ selector, create }) => {
        let el = document.querySelector(selector) as HTMLElement | null;
        if (!el && create) {
          const host = document.createElement('div');
          host.className = 'track';
          host.innerHTML = create;
          document.body.append(host);
          el = document.querySelector(selector) as HTMLElement;
        }
        const rgb = (c: string): number[] => (c.match(/[\d.]+/g) ?? []).map(Number);
        const lum = (c: number[]): number => {
          const [r, g, b] = c.slice(0, 3).map((v) => {
            const x = v / 255;
            return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
          });
          return 0.2126 * r + 0.7152 * g + 0.0722 * b;
        };
        const bg = rgb(getComputedStyle(el as HTMLElement).backgroundColor);
        if (bg.length === 4 && bg[3] === 0) {
          return 1; // transparent: invisible
        }
        const page = rgb(getComputedStyle(document.body).backgroundColor);
        const [a, b] = [lum(bg), lum(page.length ? page : [0, 0, 0])].sort((x, y) => y - x);
        return (a + 0.05) / (b + 0.05);
      },
      { selector, create },
    );
  await s.setTheme('Dark High Contrast');
  await until('the viewer in high contrast', async () => /vscode-high-contrast/.test((await frame.locator('body').getAttribute('class')) ?? ''));
  for (const [what, selector, create] of [
    ['the < 10 s legend chip', '.legend .lat.slow', undefined],
    ['the run kind badge', '.kind.kind-run.e2e', '<span class="kind kind-run e2e">run</span>'],
    ['a 1-10 s bar', '.bar.lat.slow.e2e', '<div class="bar lat slow e2e"></div>'],
  ] as const) {
    // The theme's colours reach the webview in a message of their own: wait for them,
    // and say the last ratio seen if they never give enough contrast.
    let ratio = 0;
    await until(`${what} in contrast`, async () => (ratio = await contrast(selector, create)) >= 3).catch((err) => {
      throw new Error(`${what}: contrast ${ratio.toFixed(2)} against the background (${String(err)})`);
    });
  }
  await until('the high-contrast tab icon', async () => /warden-dark\.svg/.test(await tabIcon('warden traces')));
  await s.screenshot('trace-viewer-high-contrast');
  await s.setTheme('Light Modern');
  await frame.evaluate(() => document.querySelectorAll('.e2e').forEach((e) => e.parentElement?.remove()));
});

test("the Workspaces view's title button opens every span, whatever row was selected", async () => {
  const view = await s.wardenView();
  const alpha = view.locator('.monaco-list-row', { hasText: 'alpha' }).first();
  await alpha.click(); // selected (and expanded)
  await alpha.click(); // collapsed again, still selected
  const frame = await s.traceFrame();
  await frame.locator('#workspace').selectOption('');
  await view.locator('.pane-header').first().hover();
  await view.locator('.pane-header .action-label[aria-label="Open Trace Viewer"]').first().click();
  await until('the viewer unfiltered', async () => (await frame.locator('#workspace').inputValue()) === '' && (await frame.locator('.span-row').count()) > 0);
  const workspaces = new Set(await frame.locator('.span-row.root .workspace').allInnerTexts());
  assert.ok(workspaces.size > 1, `spans of every workspace, not only alpha's: ${[...workspaces].join(', ')}`);
  await s.screenshot('trace-viewer-from-view-title');
});

test('trace totals count each LLM call once; costs print rounded', async () => {
  const frame = await s.traceFrame();
  await frame.locator('#kind').selectOption('');
  // Every explain command tree: the command span (which carries its call's usage) and
  // its one llm span. The root's figures are the call's, not twice them.
  const trees = frame.locator('section.trace', { has: frame.locator('.span-row.root[data-name="warden.llm.explain"]') });
  await until('explain trees with a paid call', async () => {
    for (let i = 0; i < (await trees.count()); i++) {
      const llm = trees.nth(i).locator('.span-row:not(.root)', { has: frame.locator('.kind-llm') }).first();
      if ((await llm.count()) && /^in \d/.test(await llm.locator('.tokens').innerText())) {
        return true;
      }
    }
    return false;
  });
  let checked = 0;
  for (let i = 0; i < (await trees.count()); i++) {
    const tree = trees.nth(i);
    const llm = tree.locator('.span-row:not(.root)', { has: frame.locator('.kind-llm') });
    if ((await llm.count()) !== 1) {
      continue;
    }
    const callTokens = await llm.locator('.tokens').innerText();
    if (!callTokens) {
      continue;
    }
    const root = tree.locator('.span-row.root');
    assert.equal(await root.locator('.tokens').innerText(), callTokens, 'the root counts its one call once');
    assert.equal(await root.locator('.cost').innerText(), await llm.locator('.cost').innerText());
    assert.match(await llm.locator('.cost').innerText(), /^\$0\.\d{1,6}$/);
    checked++;
    if (checked === 1) {
      await llm.click();
      const fact = tree.locator('.details .facts span', { hasText: /^cost / }).first();
      await fact.waitFor();
      assert.match(await fact.innerText(), /^cost \$0\.\d{1,6}$/, 'at most six decimals');
      await s.screenshot('trace-viewer-totals');
      await llm.click();
    }
  }
  assert.ok(checked >= 1, 'an explain tree with a paid call');
  assert.doesNotMatch(await frame.locator('#status').innerText(), /^1 spans/);
});

test('run a script and read its output in the terminal', { skip: runSkip }, async () => {
  needDocker();
  await s.openFile('2.00_report.py');
  await until('the editor with the report script', async () => (await s.editorText()).includes('Summarize the rows'));
  // The extension's CodeLens on line 0, and the Run button in the editor title.
  await s.page.locator('.codelens-decoration a', { hasText: '▶ Run' }).first().waitFor();
  await s.page.locator('.codelens-decoration a', { hasText: 'Run all' }).first().waitFor();
  const button = s.page.locator('.editor-actions a.action-label[aria-label*="Run Script"]').first();
  await button.waitFor();
  await s.screenshot('run-script-editor');
  await button.click();
  // Without an input the script reads /tmp/rows.jsonl, which is not there: a traceback
  // on stderr, then the status line.
  const failed = await until(
    'the traceback and the status line in the terminal',
    async () => {
      const text = await s.terminalText();
      return /FileNotFoundError/.test(text) && /\[warden\] scripts\/2\.00_report\.py failed in [\d.]+ (s|ms) \(exited with code 1\)/.test(text) ? text : '';
    },
    90_000,
  );
  assert.match(failed, /\[warden\] running scripts\/2\.00_report\.py in a sandbox/);
  await s.page.locator('.terminal-tab, .single-terminal-tab, .tabs-list .monaco-list-row', { hasText: '2.00_report.py' }).first().waitFor().catch(() => undefined);
  await s.screenshot('run-terminal-traceback');

  // With an input file picked from the workspace: the report on stdout.
  const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i, value: i * i })).join('\n');
  fs.mkdirSync(path.join(FIXTURES, 'alpha/data'), { recursive: true });
  fs.writeFileSync(path.join(FIXTURES, 'alpha/data/rows.jsonl'), `${rows}\n`);
  await s.runAndPick('Warden: Run Script with Input…', 'rows.jsonl');
  const args = s.page.locator('.quick-input-widget', { hasText: 'Run 2.00_report.py with' });
  await args.waitFor();
  await sleep(300); // let the box finish fading in
  await s.screenshot('run-with-input-arguments');
  await s.page.locator('.quick-input-widget input[type="text"]').press('Enter');
  const ok = await until(
    'the report and the status line in the terminal',
    async () => {
      const text = await s.terminalText();
      return /10 rows, total 285/.test(text) && /scripts\/2\.00_report\.py succeeded in/.test(text) ? text : '';
    },
    90_000,
  );
  assert.match(ok, /input data\/rows\.jsonl/);
  await s.screenshot('run-terminal-output');

  // Both runs in the Runs view, newest first, with their status.
  const view = await s.runsView();
  const items = view.locator('.monaco-list-row', { hasText: '2.00_report.py' });
  await until('both runs in the Runs view', async () => (await items.count()) >= 2);
  assert.match(await items.nth(0).innerText(), /succeeded/);
  assert.match(await items.nth(1).innerText(), /failed/);
  assert.equal(await items.nth(0).locator('.codicon-pass').count(), 1, 'a pass icon');
  assert.equal(await items.nth(1).locator('.codicon-error').count(), 1, 'an error icon');
  await s.screenshot('runs-view');
});

test('the Runs view re-runs with the same input, shows a run\'s log and the statistics', { skip: runSkip }, async () => {
  needDocker();
  const view = await s.runsView();
  const items = view.locator('.monaco-list-row', { hasText: '2.00_report.py' });
  const newest = items.first();
  await newest.hover();
  await newest.locator('.action-label[aria-label*="Re-run"]').click();
  // The remembered input goes with it: the report again, in a new terminal.
  await until('a third run, succeeded', async () => (await items.count()) >= 3 && /succeeded/.test(await items.first().innerText()), 90_000);
  await until('the re-run\'s terminal', async () => {
    const text = await s.terminalText();
    return /\(input data\/rows\.jsonl\)/.test(text) && /10 rows, total 285/.test(text) && /succeeded in/.test(text);
  });
  await s.screenshot('runs-view-rerun');

  // Clicking a run opens its stored log, read-only.
  await items.first().locator('.label-name').click();
  await s.page.locator('.tabs-container .tab.active', { hasText: '2.00_report.py.log' }).waitFor();
  await until('the log with the report', async () => {
    const text = await s.editorText();
    return text.includes('2.00_report.py — succeeded (exit code 0)') && text.includes('10 rows, total 285');
  });
  await s.screenshot('run-log');

  // Statistics of the script's workspace, as a Markdown preview.
  await s.page.locator('.tabs-container .tab', { hasText: /^2\.00_report\.py/ }).first().click();
  await s.runCommand('Warden: Show Run Statistics');
  const stats = await until<Frame | undefined>('the statistics preview', async () => {
    for (const frame of s.page.frames()) {
      try {
        const body = frame.locator('body', { hasText: 'Run statistics: alpha' });
        if (await body.count()) {
          return frame;
        }
      } catch {
        // a frame navigating away
      }
    }
    return undefined;
  });
  const preview = stats as Frame;
  await until('the script in the statistics', async () => /scripts\/2\.00_report\.py\s+3\s+2\s+67%/.test(await preview.locator('body').innerText()));
  await s.screenshot('run-statistics');
});

test('tree rows read distinct words aloud: no icons, no 40-character hashes', async () => {
  const view = await s.wardenView();
  const rows = view.locator('.monaco-list-row');
  await rows.filter({ hasText: 'alpha' }).first().waitFor();
  const labels = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
  assert.ok(labels.some((l) => /^Workspace alpha\b/.test(l)), labels.join(' | '));
  for (const l of labels) {
    assert.doesNotMatch(l, /[0-9a-f]{40}/, `a full hash read aloud: ${l}`);
    assert.doesNotMatch(l, /\$\(/, `an icon read aloud: ${l}`);
  }
  if (!runSkip) {
    needDocker();
    const runs = (await s.runsView()).locator('.monaco-list-row', { hasText: '2.00_report.py' });
    await until('three runs', async () => (await runs.count()) >= 3);
    const spoken = await runs.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    assert.equal(new Set(spoken).size, spoken.length, `runs read identically: ${spoken.join(' | ')}`);
    assert.match(spoken[0], /^scripts\/2\.00_report\.py succeeded in [\d.]+ (seconds|milliseconds), .*at \d\d:\d\d:\d\d, workspace alpha/);
  }
  await s.screenshot('accessible-rows');
});

test('open the trace viewer and see the run span', { skip: runSkip }, async () => {
  needDocker();
  await s.runCommand('Warden: Open Trace Viewer');
  const frame = await s.traceFrame();
  await frame.locator('#kind').selectOption('');
  // Each run is a `run` span named by the script, inside its `warden.run` command's tree.
  const trees = frame.locator('section.trace', { has: frame.locator('.span-row.root[data-name="warden.run"]') });
  const runRows = trees.locator('.span-row[data-name="scripts/2.00_report.py"]');
  await until('the run spans under warden.run, finished, with their status', async () => {
    const notes = await runRows.locator('.note.run-status').allInnerTexts();
    const kinds = await runRows.locator('.kind').allInnerTexts();
    return notes.includes('succeeded') && notes.includes('failed, exit 1') && kinds.length >= 3 && kinds.every((k) => k === 'run');
  });
  await s.screenshot('trace-viewer-run-spans');
  const succeeded = runRows.filter({ has: frame.locator('.note.run-status', { hasText: /^succeeded$/ }) }).first();
  await succeeded.click();
  await until('the run span details', async () =>
    (await frame.locator('.details pre').allInnerTexts()).some((t) => t.includes('warden-runner-python:bookworm')),
  );
  await s.screenshot('trace-viewer-run-details');
  await frame.locator('#kind').selectOption('run');
  await until('only run spans', async () => {
    const kinds = await frame.locator('.span-row .kind').allInnerTexts();
    return kinds.length >= 3 && kinds.every((k) => k === 'run');
  });
  await s.screenshot('trace-viewer-run-filter');
  await frame.locator('#kind').selectOption('');
});

test('run all, stopping on failure: progress, running count, a terminal per script that ran', { skip: runSkip }, async () => {
  needDocker();
  const view = await s.runsView();
  const before = await view.locator('.monaco-list-row', { hasText: /\.py/ }).count();
  await s.runCommand('Warden: Run All Scripts');
  await s.page.locator('.quick-input-widget', { hasText: 'Run all scripts' }).waitFor();
  await s.pickByTyping('alpha', 'alpha');
  await s.page.locator('.quick-input-widget', { hasText: 'Run the scripts of alpha' }).waitFor();
  await s.pickByTyping('stop on failure', 'Run all, stop on failure');
  // Group 1 (1.00_fetch) succeeds; group 2 (2.00_report, without its input) fails, so
  // groups 3 and 4 never run.
  await s.page.locator('.statusbar-item', { hasText: /\d+ running/ }).first().waitFor({ timeout: 15_000 });
  await s.screenshot('run-all-running');
  const done = s.page.locator('.statusbar-item', { hasText: /ran the scripts of alpha: .*stopped after group 2 failed \(2\/4 ran\)/ });
  await done.first().waitFor({ timeout: 90_000 });
  assert.match(await done.first().innerText(), /1 failed, 1 succeeded/);
  await until('no run going', async () => (await s.page.locator('.statusbar-item', { hasText: /\d+ running/ }).count()) === 0);
  await until('two more runs in the Runs view', async () => (await view.locator('.monaco-list-row', { hasText: /\.py/ }).count()) >= before + 2);
  assert.match(await view.locator('.monaco-list-row', { hasText: '1.00_fetch.py' }).first().innerText(), /succeeded/);
  assert.equal(await view.locator('.monaco-list-row', { hasText: '3.00_upload.py' }).count(), 0, 'group 3 never ran');
  // A terminal for each script that ran, named with its outcome.
  const tabs = s.page.locator('.panel .monaco-list-row'); // the terminal tabs list
  await tabs.filter({ hasText: '✔ 1.00_fetch.py' }).first().waitFor();
  // Both terminals of the failed script (its own run and the batch member) are named
  // once their runs end, which may come after the first one's name: wait for them.
  await until('the failed run and the failed batch member', async () => (await tabs.filter({ hasText: '✘ 2.00_report.py' }).count()) >= 2);
  await s.screenshot('run-all-stopped');
});

/** A script whose `mean` divides by `body` (a NameError until it is `len(xs)`). */
function meanScript(body: string): string {
  return `"""Averages."""\n\n\ndef mean(xs):\n    return sum(xs) / ${body}\n\n\nprint(mean([1, 2, 3]))\n`;
}

/**
 * Writes a new script at the root of alpha (outside `scripts/`: not part of run all) and
 * opens it through Quick Open by its absolute path (its file list can miss a new file).
 */
async function openNewScript(name: string, text: string): Promise<string> {
  const file = path.join(FIXTURES, 'alpha', name);
  fs.writeFileSync(file, text);
  const input = await s.openPalette();
  await input.fill(file);
  await s.page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor();
  await input.press('Enter');
  await s.page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor();
  await until(`the editor with ${name}`, async () => (await s.editorText()).includes('def mean(xs):'));
  return file;
}

/** The model's reply: the whole fixed file in a code block. */
function meanReply(body: string): { text: string; chunk: number } {
  return { text: `Divide by the list's length.\n\n\`\`\`python\n${meanScript(body)}\`\`\`\n`, chunk: 16 };
}

test('fix until it runs: rounds in a notification, the fix in a diff, Accept applies it; the trace viewer shows the rounds', { skip: runSkip }, async () => {
  needDocker();
  await s.statusItem().waitFor({ timeout: 60_000 });
  const name = 'fix_mean.py';
  const broken = meanScript('count');
  const file = await openNewScript(name, broken);
  try {
    // Round 1's fix still fails (another NameError); round 2's runs.
    await mock.script(meanReply('len(ys)'));
    await mock.script(meanReply('len(xs)'));
    const before = (await mock.requests()).length;
    await s.runCommand('Warden: Fix Until It Runs (LLM and Sandbox)');
    // (A notification follows the loop round by round while it runs: too brief to wait for.)
    // The fix opens in a diff titled with how it ended, with Accept and Discard.
    const diffTab = s.page.locator('.tabs-container .tab.active', { hasText: 'fix_mean.py: fix until it runs (green after 2 rounds)' }).first();
    await diffTab.waitFor({ timeout: 120_000 });
    await until('the fix on the right of the diff', async () =>
      (await s.page.locator('.editor-instance .view-lines').allInnerTexts()).some((t) => t.replace(/\u00a0/g, ' ').includes('sum(xs) / len(xs)')),
    );
    await s.page.locator('.editor-actions a.action-label[aria-label*="Accept Fix"]').first().waitFor();
    await s.page.locator('.editor-actions a.action-label[aria-label*="Discard Fix"]').first().waitFor();
    const question = s.notification(/the fixed fix_mean\.py runs \(2 rounds.*\)\. Apply the fix\?/).first();
    await question.waitFor();
    // An information toast hides after a while unless the pointer is over it (it stays in
    // the notification center): keep it up for the steps below, however slow they are.
    await question.hover();
    await sleep(600); // let the toast finish fading in
    await s.screenshot('fix-until-green-diff');
    const requests = await mock.requests();
    assert.equal(requests.length - before, 2, 'one model call per round');
    assert.match(requests[before].body, /name 'count' is not defined/);
    assert.match(requests[before + 1].body, /name 'ys' is not defined/, 'round 2 starts from round 1\'s copy and its failure');

    await question.locator('.monaco-button', { hasText: 'Accept' }).first().click();
    // The status bar says so once the server applied the edit (for 10 s: look first).
    await s.page.locator('.statusbar-item', { hasText: 'warden: fix applied to fix_mean.py' }).first().waitFor();
    await until('the diff closed', async () => (await s.page.locator('.tabs-container .tab', { hasText: 'fix until it runs' }).count()) === 0);
    await s.page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor();
    await until('the fix in the editor', async () => (await s.editorText()).includes('return sum(xs) / len(xs)'));
    assert.ok(!(await s.editorText()).includes('sum(xs) / count'));
    await s.screenshot('fix-until-green-applied');
    // VS Code saves a file a workspace edit changed (`files.refactoring.autoSave`).
    await until('the fix saved', () => fs.readFileSync(file, 'utf8') === meanScript('len(xs)'));

    // The trace viewer: the loop's command span with a fix.round span per round.
    await s.runCommand('Warden: Open Trace Viewer');
    const frame = await s.traceFrame();
    await frame.locator('#kind').selectOption('');
    const tree = frame.locator('section.trace', { has: frame.locator('.span-row.root[data-name="warden.llm.fixUntilGreen"]') }).first();
    await until('both rounds with their outcome', async () => {
      const badges = await tree.locator('.span-row[data-name="fix.round"] .fix-round').allInnerTexts();
      return badges.includes('round 1 · failing') && badges.includes('round 2 · green');
    });
    // The rounds' own spans render after the rounds: wait for them too.
    await until('llm and run spans in the loop', async () => {
      const kinds = await tree.locator('.span-row .kind').allInnerTexts();
      return kinds.includes('llm') && kinds.includes('run');
    });
    await s.screenshot('fix-until-green-traces');
  } finally {
    await s.runCommand('Notifications: Clear All Notifications').catch(() => undefined);
    await s.page.locator('.tabs-container .tab', { hasText: name }).first().click({ timeout: 5_000 }).catch(() => undefined);
    await s.runCommand('File: Revert File').catch(() => undefined);
    await s.runCommand('View: Close All Editors').catch(() => undefined);
    fs.rmSync(file, { force: true });
  }
});

test('fix until it runs: Discard in the diff title bar leaves the file as it was', { skip: runSkip }, async () => {
  needDocker();
  await s.statusItem().waitFor({ timeout: 60_000 });
  const name = 'fix_mean2.py';
  const broken = meanScript('n');
  const file = await openNewScript(name, broken);
  try {
    await mock.script(meanReply('len(xs)'));
    await s.runCommand('Warden: Fix Until It Runs (LLM and Sandbox)');
    await s.page.locator('.tabs-container .tab.active', { hasText: 'fix_mean2.py: fix until it runs (green after 1 round)' }).first().waitFor({ timeout: 120_000 });
    await s.notification(/the fixed fix_mean2\.py runs .*Apply the fix\?/).first().waitFor();
    await s.page.locator('.editor-actions a.action-label[aria-label*="Discard Fix"]').first().click();
    await until('the diff closed', async () => (await s.page.locator('.tabs-container .tab', { hasText: 'fix until it runs' }).count()) === 0);
    await s.page.locator('.statusbar-item', { hasText: 'warden: fix of fix_mean2.py discarded' }).first().waitFor();
    await s.page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor();
    assert.ok((await s.editorText()).includes('sum(xs) / n'), 'the buffer is unchanged');
    assert.equal(await s.page.locator('.tabs-container .tab.active.dirty').count(), 0, 'nothing applied');
    assert.equal(fs.readFileSync(file, 'utf8'), broken);
    // Nothing waits any more: the palette's Accept says so.
    await s.runCommand('Notifications: Clear All Notifications');
    await s.runCommand('Warden: Accept Fix');
    await s.notification(/no fix is waiting for an answer/).first().waitFor();
    await s.screenshot('fix-until-green-discarded');
  } finally {
    await s.runCommand('Notifications: Clear All Notifications').catch(() => undefined);
    await s.runCommand('View: Close All Editors').catch(() => undefined);
    fs.rmSync(file, { force: true });
  }
});

/** The frame of a Markdown preview whose body contains `text`. */
function previewFrame(text: string): Promise<Frame> {
  return s.previewFrame(text);
}

test('Show Status reports the server, database, advisory data, Docker, the LLM provider, the gateway, trace export and trust', async () => {
  await s.runCommand('Warden: Show Status');
  const frame = await previewFrame('warden status');
  const body = frame.locator('body');
  await until('every section', async () => /Repository configuration/.test(await body.innerText()));
  const text = await body.innerText();
  assert.match(text, /running: warden \S+ at /);
  assert.match(text, /warden\.db \(WARDEN_DB\), [\d.]+ (KB|MB)/);
  // The fixtures' OSV records, imported (this suite is offline), per ecosystem, with
  // when they were made current and how old the newest record is.
  assert.match(
    text,
    /\w+: \d+ advisories \(\d+ malicious\) on \d+ packages, current as of (just now|\d+ (minutes?|hours?) ago) \(imported files\), newest record (from today|\d+ (days?|months|years) old)/,
  );
  assert.match(text, /WARDEN_OFFLINE is set: nothing is downloaded/);
  assert.doesNotMatch(text, /no advisory data, but this workspace has/, 'every fixture ecosystem has data');
  assert.match(text, /provider local, model gpt-4o-mini/);
  assert.match(text, /127\.0\.0\.1:\d+\/v1 answers \(HTTP \d+/, 'the mock provider answers');
  assert.match(text, /\.warden\.toml/);
  // The gateway per workspace, the terminals (the user said Yes at start-up), the budgets.
  assert.match(text, /LLM gateway \(AI tools in the terminal\)/);
  assert.match(text, /gamma: http:\/\/127\.0\.0\.1:\d+\/w\/gamma \(OpenAI SDKs: http:\/\/127\.0\.0\.1:\d+\/w\/gamma\/v1\)/);
  assert.match(text, /Terminals of [\w, -]*gamma[\w, -]* use it/);
  assert.match(text, /Daily budget: none/);
  // Span export: off in this suite, with how to turn it on.
  assert.match(text, /Trace export \(OpenTelemetry\)\s+ℹ off: spans stay in the database\. warden\.trace\.otlp\.endpoint/);
  if (!runSkip) {
    assert.match(text, /engine \d+\.\d+/);
    assert.match(text, /runner image warden-runner-python:bookworm/);
  }
  await s.screenshot('show-status');
  await s.runCommand('View: Close All Editors');
});

test('the Getting Started walkthrough leads from install to a first finding, run and LLM action', async () => {
  await s.runCommand('Welcome: Open Walkthrough...');
  await s.pickByTyping('Warden', /Get started with Warden/);
  const page = s.page.locator('.gettingStartedContainer');
  await page.locator('.getting-started-category .category-title, h2', { hasText: 'Get started with Warden' }).first().waitFor();
  for (const step of ['Check the server and what it needs', 'Keep advisory data current', 'See a first finding', 'Run a script in the sandbox', 'Ask the LLM', 'See what happened']) {
    await page.locator('.getting-started-step', { hasText: step }).first().waitFor();
  }
  await s.screenshot('walkthrough');
  // The first step's button runs Show Status, which completes the step.
  const first = page.locator('.getting-started-step', { hasText: 'Check the server and what it needs' }).first();
  await first.click();
  await first.locator('.monaco-button, a', { hasText: 'Show Status' }).first().click();
  await previewFrame('warden status');
  await s.page.locator('.tabs-container .tab', { hasText: 'Welcome' }).first().click();
  await until('the step checked', () =>
    first.evaluate((el) => el.classList.contains('complete') || !!el.querySelector('.codicon-pass-filled, .complete, [aria-checked="true"]')),
  );
  await s.screenshot('walkthrough-step-done');
  await s.runCommand('View: Close All Editors');
});

test('the status bar picker switches the active workspace', async () => {
  // With no file open the status bar shows the active workspace.
  await s.runCommand('View: Close All Editors');
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
  const notes = view.locator('.monaco-list-row', { hasText: 'notes' }).first();
  await notes.click();
  await until('the prompt from settings on notes', async () => {
    const texts = await view.locator('.monaco-list-row', { hasText: 'System prompt' }).allInnerTexts();
    if (texts.some((t) => /from settings: Notes are plain text/.test(t))) {
      return true;
    }
    // The settings change refreshes the view (workspacesChanged); a click landing in that
    // refresh can leave the row collapsed: expand it again.
    if ((await notes.getAttribute('aria-expanded')) === 'false') {
      await notes.click();
    }
    return false;
  });
  await s.screenshot('settings-reached-server');
});

test("a repository's .warden.toml is held back until trusted: marked lines, one question, Trust applies it", async () => {
  const beta = path.join(FIXTURES, 'beta');
  fs.writeFileSync(path.join(beta, 'keys.py'), `KEY = "${KEY}"\n`);
  await s.openFile('keys.py');
  if (!(await s.page.locator('.markers-panel').isVisible())) {
    await s.page.keyboard.press('Control+Shift+M');
  }
  const filter = s.page.locator('.viewpane-filter input, .markers-panel-action-filter input').first();
  await filter.fill('AWS access key ID');
  const keyRow = s.page.locator('.markers-panel .monaco-list-row', { hasText: 'keys.py' });
  await keyRow.first().waitFor();
  // A cloned repository's file that would switch the rule off.
  fs.writeFileSync(path.join(beta, '.warden.toml'), '[secrets]\ndisable = ["aws-access-key-id"]\n');
  // The server asks once (window/showMessageRequest, shown by VS Code itself)...
  const question = s.notification(/is not trusted, so these keys are ignored: secrets/).first();
  await question.waitFor({ timeout: 30_000 });
  await sleep(600); // let the toast finish fading in
  await s.screenshot('config-trust-question');
  // ...and marks the lines that set held keys.
  await filter.fill('until you trust this file');
  await s.page.locator('.markers-panel .monaco-list-row', { hasText: '.warden.toml' }).first().waitFor();
  await s.screenshot('config-trust-marked-lines');
  // Still untrusted: the rule fires.
  await filter.fill('AWS access key ID');
  await keyRow.first().waitFor();
  await question.locator('.monaco-button', { hasText: 'Trust this configuration' }).first().click();
  await until('the disabled rule to stop firing', async () => (await keyRow.count()) === 0, 30_000);
  await filter.fill('until you trust this file');
  await until('the marks to go', async () =>
    (await s.page.locator('.markers-panel .monaco-list-row', { hasText: '.warden.toml' }).count()) === 0,
  );
  await s.screenshot('config-trusted');
  await filter.fill('');
});

test('without a model the LLM menu entries hide and Explain opens the LLM settings', async () => {
  /**
   * Sets `warden.llm.model` in the workspace file's settings, which win over the user's
   * (undefined: removed again). VS Code watches the file.
   */
  const setModel = (value: string | undefined): void => {
    const ws = JSON.parse(fs.readFileSync(WORKSPACE_FILE, 'utf8')) as { settings?: Record<string, unknown> };
    ws.settings ??= {};
    if (value === undefined) {
      delete ws.settings['warden.llm.model'];
    } else {
      ws.settings['warden.llm.model'] = value;
    }
    fs.writeFileSync(WORKSPACE_FILE, JSON.stringify(ws, null, 2));
  };
  let seen: string[] = [];
  const menuHas = async (label: string): Promise<boolean> => {
    await s.page.locator('.editor-instance .view-lines:visible').first().click({ button: 'right' });
    const menu = s.page.locator('.context-view .monaco-menu');
    await menu.waitFor();
    seen = await menu.locator('.action-label').allInnerTexts();
    const has = seen.some((t) => t.includes(label));
    await s.page.keyboard.press('Escape');
    return has;
  };
  setModel('');
  try {
    await s.runCommand('View: Close All Editors');
    await s.openFile('keys.py');
    await until('Configure LLM… in the editor menu', () => menuHas('Configure LLM…')).catch((e: Error) => {
      throw new Error(`${e.message}; the menu had: ${seen.join(' | ')}`);
    });
    assert.ok(!(await menuHas('Explain with LLM')), 'no Explain entry without a model');
    await s.screenshot('llm-not-configured-menu');
    // From the palette, Explain says what is missing and opens where it is set (the
    // server may still hold the old model a moment: ask until it refuses).
    const toast = s.notification(/no LLM model is configured/).first();
    await until('the no-model notification', async () => {
      await s.runCommand('Warden: Explain with LLM');
      return toast.waitFor({ timeout: 5_000 }).then(() => true, () => false);
    }, 60_000);
    await s.screenshot('llm-not-configured-explain');
    await toast.locator('.monaco-button', { hasText: 'Open LLM Settings' }).first().click();
    await s.page.locator('.settings-editor').waitFor();
    await until('the LLM settings listed', async () => (await s.page.locator('.settings-editor .setting-item-contents', { hasText: 'Llm: Model' }).count()) > 0);
    await s.screenshot('llm-settings');
  } finally {
    setModel(undefined);
  }
  await s.runCommand('View: Close All Editors');
  await s.openFile('keys.py');
  await until('Explain with LLM back in the editor menu', () => menuHas('Explain with LLM'));
  await s.runCommand('View: Close All Editors');
  await s.runCommand('Notifications: Clear All Notifications');
});

test('a missing binary: the side bar offers the path setting, Open Settings opens the Remote tab', async () => {
  const old = editSettings('Machine', { 'warden.server.path': '/nonexistent/warden' });
  try {
    const toast = s.notification(/warden/i).filter({ has: s.page.locator('.monaco-button', { hasText: 'Open Settings' }) }).first();
    await toast.waitFor({ timeout: 30_000 });
    const view = await s.wardenView();
    const welcome = view.locator('.welcome-view-content');
    await welcome.filter({ hasText: 'was not found' }).first().waitFor();
    assert.ok(await welcome.locator('.monaco-button, a', { hasText: 'Set Server Path' }).count(), 'Set Server Path offered');
    assert.equal(await welcome.locator('.monaco-button, a', { hasText: 'Restart Server' }).count(), 0, 'no Restart Server for a missing binary');
    await sleep(600); // let the toast finish fading in
    await s.screenshot('server-missing');
    await toast.locator('.monaco-button', { hasText: 'Open Settings' }).first().click();
    await s.page.locator('.settings-editor').waitFor();
    // warden.server.path is machine-scoped: in code-server (a remote window) it is set on
    // the Remote tab, where it applies (the User tab shows it as not applicable).
    await until('the Remote tab, checked', async () => /Remote/.test((await s.page.locator('.settings-editor .settings-tabs-widget .action-label.checked').first().innerText()) ?? ''));
    await s.page.locator('.settings-editor .setting-item-contents', { hasText: 'Server: Path' }).first().waitFor();
    await s.screenshot('server-path-remote-settings');
  } finally {
    restoreSettings('Machine', old);
  }
  await until('the server back', async () => (await s.statusItem().count()) > 0 && !/not found/.test(await s.statusItem().innerText()), 60_000);
  await s.runCommand('View: Close All Editors');
  await s.runCommand('Notifications: Clear All Notifications');
});

test('Explain, Fix, Run and Run All have keybindings, shown in the Command Palette', async () => {
  // The palette shows a command's keybinding next to it, as VS Code resolves it (the
  // contributed default, or the user's override).
  await s.openFile('2.00_report.py');
  for (const [title, keys] of [
    ['Warden: Explain with LLM', 'Ctrl+Alt+E'],
    ['Warden: Fix Problem with LLM', 'Ctrl+Alt+F'],
    ['Warden: Run Script', 'Ctrl+Alt+R'],
    ['Warden: Run All Scripts', 'Ctrl+Shift+Alt+R'],
  ] as const) {
    const input = await s.openPalette();
    await input.fill(`>${title}`);
    // The row of this command, not of one whose title starts alike ("Run Script with
    // Input…", "Run All Scripts").
    const rows = s.page.locator('.quick-input-widget .monaco-list-row');
    await until(`${title} with ${keys}`, async () => {
      const found = await rows.evaluateAll((els) => els.map((e) => [e.querySelector('.label-name')?.textContent ?? '', e.querySelector('.monaco-keybinding')?.textContent ?? '']));
      return found.some(([name, keybinding]) => name.trim() === title && keybinding.replace(/\s+/g, '') === keys);
    });
    if (title.endsWith('Run All Scripts')) {
      await s.screenshot('keybindings-in-palette');
    }
  }
  await s.page.keyboard.press('Escape');
  await s.runCommand('View: Close All Editors');
});

/** Runs git in a fixture repository (no user or system configuration). */
function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' },
  });
}

test('a file changed in two worktrees: a warning naming the other, and its quick fix opens the diff', async () => {
  // gamma gets a second worktree on a new branch (outside the workspace folders, as an
  // agent's would be); the same file changes, uncommitted, in both.
  const gamma = path.join(FIXTURES, 'gamma');
  const agent = path.join(FIXTURES, 'gamma-agent');
  git(gamma, 'worktree', 'add', '-q', '-b', 'agent/fix', agent);
  const mine = path.join(gamma, 'tools/check.py');
  const theirs = path.join(agent, 'tools/check.py');
  const original = fs.readFileSync(mine, 'utf8');
  try {
    fs.writeFileSync(mine, `${original}# mine: check the probe twice\n`);
    fs.writeFileSync(theirs, `${original}# agent: retry the probe on timeout\n`);
    await s.openFile('check.py');

    // Problems shows the warning, naming the other worktree and its branch.
    if (!(await s.page.locator('.markers-panel').isVisible())) {
      await s.page.keyboard.press('Control+Shift+M');
    }
    const filter = s.page.locator('.viewpane-filter input, .markers-panel-action-filter input').first();
    await filter.fill('worktree-collision');
    const row = s.page.locator('.markers-panel .monaco-list-row', { hasText: 'Also changed, uncommitted, in the worktree' }).first();
    await row.waitFor();
    assert.match(await row.innerText(), /in the worktree \S*gamma-agent \(branch agent\/fix\)/);
    await s.screenshot('worktree-collision-problem');

    // The quick fix where the warning sits (the start of the file) runs the extension's
    // own command, which opens VS Code's diff: the agent's copy left, this one right.
    await s.openProblem(row);
    const fix = await s.quickFix('Compare with the copy in worktree gamma-agent (agent/fix)');
    await s.screenshot('worktree-collision-quick-fix');
    await fix.click();
    const diffTab = s.page.locator('.tabs-container .tab.active', { hasText: 'check.py (agent/fix ↔ this worktree)' }).first();
    await diffTab.waitFor();
    const diff = s.page.locator('.monaco-diff-editor:visible').first();
    await diff.waitFor();
    const side = async (which: 'original' | 'modified'): Promise<string> =>
      (await diff.locator(`.editor.${which} .view-lines`).first().innerText()).replace(/\u00a0/g, ' ');
    await until("the agent's copy on the left", async () => (await side('original')).includes('# agent: retry the probe on timeout'));
    await until('this copy on the right', async () => (await side('modified')).includes('# mine: check the probe twice'));
    assert.ok(!(await side('original')).includes('# mine:'), "the left side is the other worktree's copy");
    assert.ok(!(await side('modified')).includes('# agent:'), "the right side is this worktree's copy");
    await s.screenshot('worktree-collision-diff');

    // The agent deletes its copy (still an uncommitted change there): the same quick fix
    // says so instead of opening an empty diff.
    // (Only the diff's tab closes: with check.py closed the server drops the warning.)
    fs.rmSync(theirs);
    await diffTab.hover();
    await diffTab.locator('.tab-actions .action-label').first().click();
    await until('the diff closed', async () => (await s.page.locator('.monaco-diff-editor:visible').count()) === 0);
    // Back in check.py's own tab (open all along), the cursor where the warning is.
    await s.page.locator('.tabs-container .tab', { hasText: 'check.py', hasNotText: '↔' }).first().click();
    await s.page.locator('.editor-instance .monaco-editor.focused').first().waitFor();
    await s.page.keyboard.press('Control+Home');
    await s.page.locator('.statusbar-item', { hasText: 'Ln 1, Col 1' }).first().waitFor();
    await s.screenshot('worktree-collision-back-in-file');
    const again = await s.quickFix('Compare with the copy in worktree gamma-agent (agent/fix)');
    await again.click();
    const gone = s.notification(/check\.py no longer exists in the worktree \S*gamma-agent \(branch agent\/fix\); nothing to compare/).first();
    await gone.waitFor();
    assert.equal(await s.page.locator('.monaco-diff-editor:visible').count(), 0, 'no diff opened');
    await sleep(600); // let the toast finish fading in
    await s.screenshot('worktree-collision-copy-gone');

    // The agent's worktree goes away: so does the warning (the server's 2-second poll).
    git(gamma, 'worktree', 'remove', '--force', agent);
    await until('the warning to leave Problems', async () =>
      (await s.page.locator('.markers-panel .monaco-list-row', { hasText: 'Also changed, uncommitted' }).count()) === 0,
    );
    await filter.fill('');
  } finally {
    if (fs.existsSync(agent)) {
      git(gamma, 'worktree', 'remove', '--force', agent);
    }
    fs.writeFileSync(mine, original);
    await s.runCommand('Notifications: Clear All Notifications');
    await s.runCommand('View: Close All Editors');
  }
});

test('a killed server is reported once with Show logs, and restarts', async () => {
  await s.runCommand('View: Close All Editors'); // the status bar then names the active workspace
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
  // The output view renders only the lines in sight, and where it is scrolled to depends
  // on how much was logged: filter it to the line instead of hoping it is on screen.
  // The Problems view keeps its own (hidden) filter input, still holding an earlier
  // test's text: fill the one on screen.
  const outputFilter = s.page.locator('.panel .viewpane-filter input:visible').first();
  await outputFilter.fill('SIGKILL');
  await s.page.locator('.panel .view-line', { hasText: /warden\s+exited\s+\(signal\s+SIGKILL\)/ }).first().waitFor();
  await s.screenshot('server-restarted-logs');
  await outputFilter.fill('');
});

test('packaging: display name, icon and grouped settings; a stripped, platform-specific .vsix', async () => {
  await s.runCommand('Preferences: Open Settings (UI)');
  await s.page.locator('.settings-editor').waitFor();
  await s.page.keyboard.type('@ext:warden.warden');
  const toc = s.page.locator('.settings-editor .settings-toc-container');
  for (const group of ['General', 'Secrets', 'Packages', 'LLM', 'LLM Gateway', 'Runs', 'Traces']) {
    await toc.locator('.monaco-list-row', { hasText: new RegExp(`^${group}`) }).first().waitFor();
  }
  await s.screenshot('settings-groups');
  await s.runCommand('View: Close All Editors');
  await s.runCommand('Extensions: Show Installed Extensions');
  const item = s.page.locator('.extensions-viewlet .extension-list-item', { hasText: 'warden' }).first();
  await item.waitFor();
  assert.equal(await item.locator('.name').first().innerText(), 'Warden');
  assert.match((await item.locator('img.icon').first().getAttribute('src')) ?? '', /icon\.png/);
  await s.screenshot('extension-icon');

  // The bundled binary is stripped, in a package for one platform.
  const vsix = path.join(WORK, 'warden-linux-x64.vsix');
  execFileSync(path.join(REPO_ROOT, 'scripts/build-vscode.sh'), ['--bundle-server', '--target', 'linux-x64', '--out', vsix], {
    env: { ...process.env, WARDEN_BIN },
    stdio: 'pipe',
  });
  const manifest = execFileSync('unzip', ['-p', vsix, 'extension.vsixmanifest'], { encoding: 'utf8' });
  assert.match(manifest, /TargetPlatform="linux-x64"/);
  assert.match(manifest, /DisplayName>Warden</);
  const dir = fs.mkdtempSync(path.join(WORK, 'vsix-'));
  execFileSync('unzip', ['-q', vsix, 'extension/server/warden', 'extension/media/icon.png', '-d', dir]);
  const sections = execFileSync('readelf', ['-S', path.join(dir, 'extension/server/warden')], { encoding: 'utf8' });
  assert.doesNotMatch(sections, /\.symtab|\.debug_info/, 'the bundled server is stripped');
  assert.ok(fs.statSync(vsix).size < fs.statSync(WARDEN_BIN).size, 'smaller than the unstripped binary');
});
