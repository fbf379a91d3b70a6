// End-to-end harness: runs code-server (real VS Code, from npm) with the packaged .vsix
// installed, opens the fixture workspaces, and drives the workbench in Debian's Chromium
// through playwright-core. Helpers for the command palette, quick picks, notifications,
// the webview frames (trace viewer, explanation panel, Markdown previews) and numbered
// screenshots; the scripted loopback LLM (warden-mock-llm) the LLM scenarios point warden
// at: started on a free port, scripted and read over its HTTP hooks, stopped at the end;
// and the loopback package registry (warden-mock-registry: an OSV mirror and a package
// metadata API serving the repository's fixtures) the package-data scenarios download
// from.
//
// Environment (set by scripts/test-vscode.sh): CODE_SERVER, WARDEN_BIN, WARDEN_MOCK_LLM,
// WARDEN_MOCK_REGISTRY (only for the registry), WARDEN_VSIX, E2E_WORK (scratch:
// fixtures, database, user data), E2E_OUT (screenshots, logs), CHROMIUM (default
// /usr/bin/chromium). Each test file runs with its own E2E_WORK and E2E_OUT.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import pw from 'playwright-core';
import type { Browser, Frame, Locator, Page } from 'playwright-core';

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (!v) {
    throw new Error(`${name} is not set (scripts/test-vscode.sh sets it)`);
  }
  return v;
}

export const CODE_SERVER = env('CODE_SERVER');
export const WARDEN_BIN = env('WARDEN_BIN');
export const WARDEN_MOCK_LLM = env('WARDEN_MOCK_LLM');
export const WARDEN_MOCK_REGISTRY = process.env.WARDEN_MOCK_REGISTRY ?? '';
export const VSIX = env('WARDEN_VSIX');
export const WORK = env('E2E_WORK');
export const OUT = env('E2E_OUT');
export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../..');

export const FIXTURES = path.join(WORK, 'fixtures');
export const WORKSPACE_FILE = path.join(WORK, 'fixtures.code-workspace');
export const USER_DATA = path.join(WORK, 'user-data');
const EXTENSIONS = path.join(WORK, 'extensions');

let shot = 0;

/** Spans recorded before the editor starts (the viewer's page size is 100). */
export const HISTORY_SPANS = 110;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** One request the mock LLM received. */
export interface Recorded {
  path: string;
  headers: [string, string][];
  body: string;
}

/** The reply to the next request (`{{target}}` expands to the code sent). */
export interface Script {
  text: string;
  chunk?: number;
  delayMs?: number;
}

/** `warden-mock-llm` on a free loopback port, started and stopped by the tests. */
export class MockLlm {
  readonly url: string;
  private readonly proc: ChildProcess;
  private readonly origin: string;

  private constructor(proc: ChildProcess, url: string) {
    this.proc = proc;
    this.url = url;
    this.origin = new URL(url).origin;
  }

  static async start(): Promise<MockLlm> {
    const proc = spawn(WARDEN_MOCK_LLM, ['0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`warden-mock-llm printed no URL: ${out}`)), 10_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const m = /^(http:\/\/127\.0\.0\.1:\d+\/v1)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`warden-mock-llm exited (${code}): ${out}`)));
    });
    return new MockLlm(proc, url);
  }

  /** Queues the reply to the next request. */
  async script(script: Script): Promise<void> {
    const res = await fetch(`${this.origin}/_script`, { method: 'POST', body: JSON.stringify(script) });
    if (!res.ok) {
      throw new Error(`POST /_script: HTTP ${res.status}`);
    }
  }

  /** Every request received so far, oldest first. */
  async requests(): Promise<Recorded[]> {
    const res = await fetch(`${this.origin}/_requests`);
    return (await res.json()) as Recorded[];
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return;
    }
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
  }
}

/**
 * `warden-mock-registry` on a free loopback port, serving the repository's OSV fixtures
 * (`fixtures/osv`) as an OSV mirror and its recorded metadata answers
 * (`fixtures/metadata`; any other package is a 404, "unknown") as a deps.dev-shaped API.
 * Its URLs carry a token as basic-auth credentials: pass them as they are.
 */
export class MockRegistry {
  readonly osv: string;
  readonly metadata: string;
  private readonly proc: ChildProcess;

  private constructor(proc: ChildProcess, osv: string, metadata: string) {
    this.proc = proc;
    this.osv = osv;
    this.metadata = metadata;
  }

  /** The token in the URLs (never to be shown to the user). */
  get token(): string {
    return new URL(this.osv).password;
  }

  /** `http://127.0.0.1:PORT/osv`: the mirror as warden stores and shows it. */
  get osvWithoutToken(): string {
    const u = new URL(this.osv);
    return `${u.protocol}//${u.host}${u.pathname}`;
  }

  static async start(): Promise<MockRegistry> {
    if (!WARDEN_MOCK_REGISTRY) {
      throw new Error('WARDEN_MOCK_REGISTRY is not set (scripts/test-vscode.sh sets it)');
    }
    const proc = spawn(
      WARDEN_MOCK_REGISTRY,
      [path.join(REPO, 'fixtures/osv'), '0', '--metadata', path.join(REPO, 'fixtures/metadata')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const urls = await new Promise<{ osv: string; metadata: string }>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`warden-mock-registry printed no URLs: ${out}`)), 10_000);
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.trim().startsWith('{') && l.trim().endsWith('}'));
        if (line) {
          clearTimeout(timer);
          const parsed = JSON.parse(line) as { osv: string; metadata: string };
          for (const url of [parsed.osv, parsed.metadata]) {
            if (new URL(url).hostname !== '127.0.0.1') {
              reject(new Error(`the registry is not on loopback: ${url}`));
            }
          }
          resolve(parsed);
        }
      });
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`warden-mock-registry exited (${code}): ${out}`)));
    });
    return new MockRegistry(proc, urls.osv, urls.metadata);
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return;
    }
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
  }
}

/** Settings pointing warden at the mock LLM. */
export function llmSettings(mock: MockLlm): Record<string, unknown> {
  return {
    'warden.llm.provider': 'local',
    'warden.llm.model': 'gpt-4o-mini',
    'warden.llm.providers': { local: { api: 'openai', baseUrl: mock.url } },
  };
}

/** How a test file's session differs from the default one (the fixture workspaces). */
export interface PrepareOptions {
  /**
   * Creates the workspace folders under FIXTURES and returns their names (default:
   * scripts/fixtures.sh's alpha, beta, gamma and notes).
   */
  fixtures?: (dir: string) => string[];
  /** Machine settings (default: the server binary and the OSV fixtures as `osvPaths`). */
  machine?: Record<string, unknown>;
  /** Spans from earlier sessions, more than a page of the trace viewer (default: true). */
  history?: boolean;
  /** More environment for code-server, and so the extension host and warden. */
  env?: Record<string, string>;
  /**
   * The database: `WARDEN_DB` in WORK (default), or false for none in the environment, so
   * the `warden.database.path` setting chooses it.
   */
  databaseFromEnv?: boolean;
}

let options: PrepareOptions = {};

/** Fixture workspaces as git repositories, user settings, the extension installed. */
export function prepare(userSettings: Record<string, unknown> = {}, opts: PrepareOptions = {}): void {
  options = opts;
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  fs.mkdirSync(OUT, { recursive: true });
  let folders = ['alpha', 'beta', 'gamma', 'notes'];
  if (opts.fixtures) {
    fs.mkdirSync(FIXTURES, { recursive: true });
    folders = opts.fixtures(FIXTURES);
  } else {
    execFileSync(path.join(REPO, 'scripts/fixtures.sh'), [FIXTURES], { stdio: 'ignore' });
  }
  fs.writeFileSync(WORKSPACE_FILE, JSON.stringify({ folders: folders.map((f) => ({ path: path.join(FIXTURES, f) })) }, null, 2));
  // History from earlier sessions: one span per headless registration, more than one
  // page of the trace viewer.
  for (let i = 0; opts.history !== false && i < HISTORY_SPANS; i++) {
    execFileSync(WARDEN_BIN, ['workspaces', path.join(FIXTURES, 'notes')], { env: codeServerEnv(), stdio: 'ignore' });
  }
  fs.mkdirSync(path.join(USER_DATA, 'User'), { recursive: true });
  fs.writeFileSync(
    path.join(USER_DATA, 'User/settings.json'),
    JSON.stringify(
      {
        'security.workspace.trust.enabled': false,
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'telemetry.telemetryLevel': 'off',
        'update.mode': 'none',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'extensions.ignoreRecommendations': true,
        'chat.disableAIFeatures': true,
        'git.enabled': false,
        'editor.minimap.enabled': false,
        'window.commandCenter': false,
        'workbench.secondarySideBar.defaultVisibility': 'hidden',
        // The DOM renderer, so the tests can read the terminal's rows.
        'terminal.integrated.gpuAcceleration': 'off',
        ...userSettings,
      },
      null,
      2,
    ),
  );
  // warden.server.path is machine-scoped: in code-server (a remote window) such settings
  // come from the remote machine's settings, not the browser user's.
  fs.mkdirSync(path.join(USER_DATA, 'Machine'), { recursive: true });
  fs.writeFileSync(
    path.join(USER_DATA, 'Machine/settings.json'),
    JSON.stringify(
      opts.machine ?? { 'warden.server.path': WARDEN_BIN, 'warden.packages.osvPaths': [path.join(REPO, 'fixtures/osv')] },
      null,
      2,
    ),
  );
  const out = execFileSync(
    CODE_SERVER,
    ['--user-data-dir', USER_DATA, '--extensions-dir', EXTENSIONS, '--install-extension', VSIX, '--force'],
    { encoding: 'utf8', env: codeServerEnv() },
  );
  fs.writeFileSync(path.join(OUT, 'install-extension.log'), out);
  if (!/successfully installed/i.test(out)) {
    throw new Error(`installing ${VSIX} failed:\n${out}`);
  }
}

/**
 * Changes settings.json of `scope` (User: the browser user's; Machine: the remote
 * machine's) while VS Code runs: keys set to undefined are removed. Returns the old file
 * to put back with `restoreSettings`.
 */
export function editSettings(scope: 'User' | 'Machine', patch: Record<string, unknown>): string {
  const file = path.join(USER_DATA, scope, 'settings.json');
  const old = fs.readFileSync(file, 'utf8');
  const json = JSON.parse(old) as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) {
      delete json[k];
    } else {
      json[k] = v;
    }
  }
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
  return old;
}

export function restoreSettings(scope: 'User' | 'Machine', text: string): void {
  fs.writeFileSync(path.join(USER_DATA, scope, 'settings.json'), text);
}

function codeServerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The extension host, and so warden, inherit these.
    WARDEN_DB: path.join(WORK, 'warden.db'),
    WARDEN_LOG_FILE: path.join(OUT, 'warden.log'),
    WARDEN_LOG: 'info',
    XDG_CONFIG_HOME: path.join(WORK, 'config'),
    XDG_DATA_HOME: path.join(WORK, 'data'),
    ...options.env,
  };
  if (options.databaseFromEnv === false) {
    delete env.WARDEN_DB;
  }
  return env;
}

export class Session {
  server!: ChildProcess;
  browser!: Browser;
  page!: Page;
  url = '';

  async start(): Promise<void> {
    const port = await freePort();
    const log = fs.openSync(path.join(OUT, 'code-server.log'), 'w');
    const config = path.join(WORK, 'code-server.yaml');
    fs.writeFileSync(config, 'auth: none\n');
    this.server = spawn(
      CODE_SERVER,
      [
        '--config', config,
        '--auth', 'none',
        '--bind-addr', `127.0.0.1:${port}`,
        '--disable-telemetry',
        '--disable-update-check',
        '--disable-workspace-trust',
        '--disable-getting-started-override',
        '--ignore-last-opened',
        '--user-data-dir', USER_DATA,
        '--extensions-dir', EXTENSIONS,
      ],
      { env: codeServerEnv(), stdio: ['ignore', log, log] },
    );
    await waitForPort(port, 60_000);
    this.browser = await pw.chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
        '--disable-dev-shm-usage',
      ],
    });
    const context = await this.browser.newContext({
      viewport: { width: 1600, height: 1000 },
      // Copy buttons write the clipboard; the tests read it back.
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    this.page = await context.newPage();
    this.page.setDefaultTimeout(30_000);
    // Errors of the workbench and the webviews, for when a step fails.
    const consoleLog = path.join(OUT, 'browser-console.log');
    this.page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') {
        fs.appendFileSync(consoleLog, `${m.type()}: ${m.text()}\n`);
      }
    });
    this.page.on('pageerror', (err) => fs.appendFileSync(consoleLog, `pageerror: ${err.message}\n`));
    this.url = `http://127.0.0.1:${port}/?workspace=${encodeURIComponent(WORKSPACE_FILE)}`;
    await this.page.goto(this.url);
    await this.page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await this.page.locator('.statusbar').waitFor();
  }

  async stop(): Promise<void> {
    await this.browser?.close().catch(() => undefined);
    if (this.server && this.server.exitCode === null) {
      const exited = new Promise((r) => this.server.once('exit', r));
      this.server.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (this.server.exitCode === null) {
        this.server.kill('SIGKILL');
      }
    }
  }

  /** Saves `NN-name.png` in the output folder. */
  async screenshot(name: string): Promise<string> {
    shot += 1;
    const file = path.join(OUT, `${String(shot).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Runs a command from the palette by its title (exact match on the first item). */
  async runCommand(title: string): Promise<void> {
    const item = this.page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
    let input: Locator;
    for (let attempt = 0; ; attempt++) {
      input = await this.openPalette();
      try {
        await input.fill(`>${title}`, { timeout: 10_000 });
        await item.waitFor();
        break;
      } catch (err) {
        // A webview that had focus (the trace viewer, a preview) can take it back just
        // after the palette opens, which closes the palette: open it again. Nothing has
        // run yet (Enter comes below).
        if (attempt >= 2 || (await input.isVisible())) {
          throw err;
        }
      }
    }
    // Enter runs the selected row, at first the top one, which is not always the one
    // asked for ("Preferences: Browse Color Themes in Marketplace" can rank above
    // "Preferences: Color Theme"): move the selection down to it (a click can miss a list
    // still settling).
    const selected = this.page.locator('.quick-input-widget .monaco-list-row.focused').first();
    for (let i = 0; i < 10 && !(await selected.innerText().catch(() => '')).includes(title); i++) {
      await input.press('ArrowDown');
    }
    await input.press('Enter');
  }

  async openPalette(): Promise<Locator> {
    const input = this.page.locator('.quick-input-widget input[type="text"]');
    await this.page.keyboard.press('Escape');
    await this.page.keyboard.press('F1');
    await input.waitFor({ state: 'visible' });
    return input;
  }

  /** Opens a workspace file by name through Quick Open; waits for its tab. */
  async openFile(name: string): Promise<void> {
    const input = await this.openPalette();
    await input.fill(name); // no ">": Quick Open's file search
    await this.page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor();
    await input.press('Enter');
    await this.page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor();
    await this.page.locator('.editor-instance .view-lines').first().waitFor();
  }

  /**
   * Opens a file by its name in the Explorer, which shows files created while VS Code
   * runs (Quick Open's file list can miss those for a while); waits for its tab.
   */
  async openFromExplorer(name: string): Promise<void> {
    await this.runCommand('View: Show Explorer');
    const exact = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    const row = this.page
      .locator('.explorer-folders-view .monaco-list-row')
      .filter({ has: this.page.locator('.label-name', { hasText: exact }) })
      .first();
    await row.waitFor();
    await row.click();
    await this.page.locator('.tabs-container .tab.active', { hasText: name }).first().waitFor();
    await this.page.locator('.editor-instance .view-lines').first().waitFor();
  }

  /** Text of the visible terminal(s), row by row (xterm's DOM renderer). */
  async terminalText(): Promise<string> {
    const rows = this.page.locator('.terminal-wrapper .xterm-rows');
    const texts: string[] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      const r = rows.nth(i);
      if (await r.isVisible()) {
        texts.push(await r.innerText());
      }
    }
    return texts.join('\n').replace(/\u00a0/g, ' ');
  }

  /** The Warden side bar's Runs view, opened (and expanded) if needed. */
  async runsView(): Promise<Locator> {
    await this.wardenView();
    const view = this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: /^runs/i }) });
    await view.waitFor();
    const header = view.locator('.pane-header').first();
    if ((await header.getAttribute('aria-expanded')) === 'false') {
      await header.click();
    }
    return view;
  }

  /** Picks the quick pick row whose label is `label`. */
  async pick(label: string | RegExp, timeout = 30_000): Promise<void> {
    const row = this.page.locator('.quick-input-widget .monaco-list-row').filter({
      has: this.page.locator('.label-name', { hasText: label }),
    });
    await row.first().waitFor({ timeout });
    await row.first().click({ timeout });
  }

  /**
   * Filters the open quick pick by typing `text`, waits until `label` is the first row,
   * and accepts it with Enter (no click, so no row can move under the pointer).
   */
  async pickByTyping(text: string, label: string | RegExp, timeout = 30_000): Promise<void> {
    const input = this.page.locator('.quick-input-widget input[type="text"]');
    await input.waitFor({ state: 'visible', timeout });
    await input.fill(text);
    const first = this.page.locator('.quick-input-widget .monaco-list-row').first().locator('.label-name').first();
    await until(`${String(label)} first in the quick pick`, async () => {
      const t = await first.innerText();
      return typeof label === 'string' ? t.includes(label) : label.test(t);
    }, timeout);
    await input.press('Enter');
  }

  /**
   * Runs a command that asks with a quick pick and picks `label`. A webview that had focus
   * can take it back just after the pick opens, which closes the pick: run it again then.
   */
  async runAndPick(title: string, label: string | RegExp): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await this.runCommand(title);
      try {
        await this.pick(label, 5_000);
        return;
      } catch (err) {
        if (attempt >= 2) {
          throw err;
        }
      }
    }
  }

  /**
   * Opens a Problems row's file with the cursor on the problem: the row says where
   * (`[Ln 4, Col 22]`); Go to Line puts the cursor there, where the fixes are asked for.
   */
  async openProblem(row: Locator): Promise<void> {
    const where = /\[Ln (\d+), Col (\d+)\]/.exec(await row.innerText());
    if (!where) {
      throw new Error(`no position in the Problems row: ${await row.innerText()}`);
    }
    await row.dblclick();
    await this.page.locator('.editor-instance .view-lines').first().waitFor();
    // The editor takes focus a moment after the double click; Go to Line opened before
    // that closes again (and is inert while it fades out): wait for the focus, then ask
    // again if the box went away anyway.
    await this.page.locator('.editor-instance .monaco-editor.focused').first().waitFor({ timeout: 10_000 }).catch(() => undefined);
    const input = this.page.locator('.quick-input-widget input[type="text"]');
    for (let attempt = 0; ; attempt++) {
      await this.page.keyboard.press('Control+G');
      await input.waitFor({ state: 'visible' });
      try {
        await input.fill(`:${where[1]}:${Number(where[2]) + 1}`, { timeout: 3_000 });
        await input.press('Enter', { timeout: 3_000 });
        break;
      } catch (err) {
        if (attempt >= 4) {
          throw err;
        }
        await this.page.keyboard.press('Escape');
        await sleep(500);
      }
    }
    await this.page
      .locator('.statusbar-item', { hasText: `Ln ${where[1]}, Col ${Number(where[2]) + 1}` })
      .first()
      .waitFor();
  }

  /** Opens the quick-fix menu at the cursor (Ctrl+.) and returns the row matching `title`. */
  async quickFix(title: string | RegExp): Promise<Locator> {
    const row = this.page.locator('.action-widget .monaco-list-row', { hasText: title }).first();
    // The key can land while focus is still coming back to the editor: ask again.
    for (let attempt = 0; attempt < 5; attempt++) {
      await this.page.locator('.editor-instance .monaco-editor.focused').first().waitFor({ timeout: 5_000 }).catch(() => undefined);
      await this.page.keyboard.press('Control+.');
      try {
        await row.waitFor({ timeout: 3_000 });
        return row;
      } catch {
        await this.page.keyboard.press('Escape');
      }
    }
    await row.waitFor({ timeout: 1_000 });
    return row;
  }

  /** The Warden side bar's Workspaces view, opened from the activity bar if hidden. */
  async wardenView(): Promise<Locator> {
    const view = this.page.locator('.pane', { has: this.page.locator('.pane-header', { hasText: /workspaces/i }) });
    if (!(await view.isVisible())) {
      await this.page.locator('.activitybar .action-item a[aria-label^="Warden"]').first().click();
    }
    await view.waitFor();
    return view;
  }

  quickPickRows(): Locator {
    return this.page.locator('.quick-input-widget .monaco-list-row');
  }

  /** The warden status bar entry (the one with the shield, or its error/restart forms). */
  statusItem(): Locator {
    return this.page.locator('.statusbar-item').filter({ has: this.page.locator('.codicon-shield') });
  }

  /** Switches the colour theme through its picker (`label`: e.g. "Dark High Contrast"). */
  async setTheme(label: string): Promise<void> {
    await this.runCommand('Preferences: Color Theme');
    await this.pickByTyping(label, label);
    await until(`the ${label} theme`, async () => {
      const cls = (await this.page.locator('.monaco-workbench').getAttribute('class')) ?? '';
      const want = /High Contrast/.test(label) ? (/Light/.test(label) ? 'hc-light' : 'hc-black') : /Light/.test(label) ? 'vs' : 'vs-dark';
      return cls.split(/\s+/).includes(want);
    });
    // The picker fades out; the next palette must not catch it half gone.
    await this.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  }

  /** What a screen reader reads for `target`: its aria-label, else its first descendant's. */
  async ariaLabel(target: Locator): Promise<string> {
    return target.first().evaluate((el) => el.getAttribute('aria-label') ?? el.querySelector('[aria-label]')?.getAttribute('aria-label') ?? '');
  }

  notification(text: string | RegExp): Locator {
    return this.page.locator('.notification-toast, .notifications-center .notification-list-item', { hasText: text });
  }

  /** The frame of the trace viewer's webview (VS Code nests it in two iframes). */
  traceFrame(timeoutMs = 30_000): Promise<Frame> {
    return this.webviewFrame('#traces', 'the trace viewer', timeoutMs);
  }

  /** The frame of the explanation panel's webview. */
  explainFrame(timeoutMs = 30_000): Promise<Frame> {
    return this.webviewFrame('#explain', 'the explanation panel', timeoutMs);
  }

  private async webviewFrame(selector: string, what: string, timeoutMs: number): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const frame of this.page.frames()) {
        try {
          if (await frame.locator(selector).count()) {
            return frame;
          }
        } catch {
          // a frame navigating away; try the next
        }
      }
      await sleep(250);
    }
    throw new Error(`the webview of ${what} did not appear`);
  }

  /** The frame of a Markdown preview whose heading contains `text`. */
  async previewFrame(text: string): Promise<Frame> {
    const found = await until<Frame | undefined>(`the preview with ${text}`, async () => {
      for (const frame of this.page.frames()) {
        try {
          // The heading, inside the preview's own frame (the workbench's tab says it too).
          if (await frame.locator('h1, h2', { hasText: text }).count()) {
            return frame;
          }
        } catch {
          // a frame navigating away
        }
      }
      return undefined;
    });
    return found as Frame;
  }

  /** Text of the visible editor lines (non-breaking spaces turned back into spaces). */
  async editorText(): Promise<string> {
    const text = await this.page.locator('.editor-instance .view-lines').first().innerText();
    return text.replace(/\u00a0/g, ' ');
  }
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) {
      return;
    }
    await sleep(200);
  }
  throw new Error(`code-server did not listen on ${port} within ${ms} ms`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value. */
export async function until<T>(what: string, check: () => Promise<T> | T, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v) {
        return v;
      }
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/**
 * Why sandboxed runs cannot happen here ('' when they can): a Docker engine must answer
 * and the Python runner image must exist (scripts/docker-setup.sh builds it).
 */
export function dockerProblem(): string {
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: 'pipe', timeout: 30_000 });
  } catch {
    return 'no Docker engine answers (docker version failed)';
  }
  const image = 'warden-runner-python:bookworm';
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'pipe', timeout: 30_000 });
  } catch {
    return `the runner image ${image} is missing (scripts/docker-setup.sh builds it)`;
  }
  return '';
}

/** Pids of the warden servers started under `root` (walks /proc; no matching by name). */
export function wardenPids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      try {
        if (fs.readlinkSync(`/proc/${child}/exe`) === fs.realpathSync(WARDEN_BIN)) {
          out.push(child);
        }
      } catch {
        // not ours to read, or gone
      }
      walk(child);
    }
  };
  walk(root);
  return out;
}
