// Keeps lsp_ext.ts in sync with the server's lsp_ext.rs (every command, request and
// notification name, both ways) and checks that every server command has a palette entry
// in package.json and a handler in commands.ts. A name added on the server fails here
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
const rustNotifs = rustNotifications(rust);
const exported = ext as unknown as Record<string, unknown>;

test('lsp_ext.rs parses', () => {
  assert.ok(rustCommands.size >= 10, `${rustCommands.size} commands`);
  assert.ok(rustRequests.size >= 4, `${rustRequests.size} requests`);
  assert.ok(rustNotifs.length >= 3, `${rustNotifs.length} notifications`);
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
