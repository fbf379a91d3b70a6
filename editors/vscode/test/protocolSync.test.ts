// Keeps lsp_ext.ts in sync with the server's lsp_ext.rs (every command, request and
// notification name, both ways) and checks that every server command has a palette entry
// in package.json and a handler in commands.ts, and that every client-side command
// (`CLIENT_CMD_*`: in code actions, run by the editor) is contributed, hidden from the
// palette, and registered by the extension itself. A name added on the server fails here
// until the extension mirrors it.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as ext from '../src/lsp_ext.ts';
import { EXTENSION_DIR, packageJson, read, rustConsts, rustNotifications } from './repo.ts';

const rust = read('server/lsp/src/lsp_ext.rs');
const rustCommands = rustConsts(rust, 'CMD_');
const rustRequests = rustConsts(rust, 'REQ_');
const rustClientCommands = rustConsts(rust, 'CLIENT_CMD_');
const rustNotifs = rustNotifications(rust);
const exported = ext as unknown as Record<string, unknown>;

test('lsp_ext.rs parses', () => {
  assert.ok(rustCommands.size >= 10, `${rustCommands.size} commands`);
  assert.ok(rustRequests.size >= 4, `${rustRequests.size} requests`);
  assert.ok(rustNotifs.length >= 3, `${rustNotifs.length} notifications`);
  assert.ok(rustClientCommands.size >= 1, `${rustClientCommands.size} client commands`);
});

test('every command: same constant name and value, and in COMMANDS', () => {
  for (const [name, value] of rustCommands) {
    assert.equal(exported[name], value, `lsp_ext.ts ${name}`);
  }
  assert.deepEqual([...ext.COMMANDS].sort(), [...rustCommands.values()].sort());
});

test('every request and notification name', () => {
  for (const [name, value] of rustRequests) {
    assert.equal(exported[name], value, `lsp_ext.ts ${name}`);
  }
  const ts = new Set(ext.METHODS);
  for (const m of [...rustRequests.values(), ...rustNotifs]) {
    assert.ok(ts.has(m), `lsp_ext.ts METHODS lacks ${m}`);
  }
  assert.deepEqual([...ts].sort(), [...rustRequests.values(), ...rustNotifs].sort(), 'no extra names');
});

test('every server command has a palette entry and a handler', () => {
  const contributed = new Set(
    ((packageJson().contributes as { commands: { command: string }[] }).commands).map((c) => c.command),
  );
  const source = fs.readFileSync(path.join(EXTENSION_DIR, 'src/commands.ts'), 'utf8');
  for (const [name, id] of rustCommands) {
    assert.ok(contributed.has(id), `package.json does not contribute ${id}`);
    // server(CMD, ...) for server commands; llm(CMD) for the LLM actions (llm.ts runs them).
    assert.match(source, new RegExp(`\\b(server|llm)\\(\\s*${name}\\s*[,)]`), `commands.ts does not register ${name}`);
  }
});

test('every contributed command is a warden.* command with a title', () => {
  for (const c of (packageJson().contributes as { commands: { command: string; title: string }[] }).commands) {
    assert.match(c.command, /^warden\./);
    assert.ok(c.title.length > 3);
  }
});

/** Every `.ts` file under src/, as one text (handlers live in several modules). */
function extensionSource(): string {
  const dir = path.join(EXTENSION_DIR, 'src');
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('\n');
}

test('every client-side command: same constant, not a server command, contributed hidden, registered here', () => {
  const exportedClient = Object.keys(exported).filter((k) => k.startsWith('CLIENT_CMD_'));
  assert.deepEqual(exportedClient.sort(), [...rustClientCommands.keys()].sort(), 'the same CLIENT_CMD_ names');
  const contributes = packageJson().contributes as {
    commands: { command: string }[];
    menus: { commandPalette: { command: string; when?: string }[] };
  };
  const contributed = new Set(contributes.commands.map((c) => c.command));
  const source = extensionSource();
  for (const [name, id] of rustClientCommands) {
    assert.equal(exported[name], id, `lsp_ext.ts ${name}`);
    assert.ok(!(ext.COMMANDS as readonly string[]).includes(id), `${id} is in COMMANDS, but the server does not run it`);
    assert.ok(!rustCommands.has(name.replace(/^CLIENT_/, '')), `${id} is a server command too`);
    assert.ok(contributed.has(id), `package.json does not contribute ${id}`);
    // It needs the quick fix's argument: hidden from the Command Palette.
    const palette = contributes.menus.commandPalette.find((m) => m.command === id);
    assert.equal(palette?.when, 'false', `${id} shows in the Command Palette`);
    // vscode.commands.registerCommand(CLIENT_CMD_..., ...) or commands.ts's reg(CLIENT_CMD_..., ...).
    assert.match(source, new RegExp(`\\b(registerCommand|reg)\\(\\s*${name}\\s*,`), `the extension does not register ${name}`);
  }
});
