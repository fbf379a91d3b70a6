// Paths and parsers the sync tests share: the repository root, the server's
// `lsp_ext.rs` names and the settings table of `server/docs/protocol.md`.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const EXTENSION_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(EXTENSION_DIR, '../..');

export function read(rel: string): string {
  return fs.readFileSync(path.join(REPO, rel), 'utf8');
}

export function packageJson(): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(EXTENSION_DIR, 'package.json'), 'utf8'));
}

/** `pub const NAME: &str = "value";` constants of lsp_ext.rs whose name starts with `prefix`. */
export function rustConsts(source: string, prefix: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = new RegExp(`pub const (${prefix}\\w*): &str = "([^"]+)";`, 'g');
  for (const m of source.matchAll(re)) {
    out.set(m[1], m[2]);
  }
  return out;
}

/** Notification names: `const METHOD: &'static str = "...";` in lsp_ext.rs. */
export function rustNotifications(source: string): string[] {
  return [...source.matchAll(/const METHOD: &'static str = "([^"]+)";/g)].map((m) => m[1]);
}

export interface DocSetting {
  key: string;
  type: string;
  default: string;
}

/** Rows of the `| key | type | default | meaning |` table under `## Settings`. */
export function protocolSettings(doc: string): DocSetting[] {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => l.startsWith('## Settings'));
  if (start < 0) {
    throw new Error('protocol.md has no "## Settings" section');
  }
  const rows: DocSetting[] = [];
  let header: string[] | undefined;
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith('## ')) {
      break;
    }
    if (!line.startsWith('|')) {
      if (header && rows.length) {
        break; // end of the table
      }
      continue;
    }
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    if (!header) {
      header = cells.map((c) => c.toLowerCase());
      continue;
    }
    if (cells.every((c) => /^-+$/.test(c))) {
      continue;
    }
    const col = (name: string): string => {
      const i = header!.indexOf(name);
      if (i < 0) {
        throw new Error(`protocol.md's settings table has no "${name}" column`);
      }
      return cells[i].replace(/^`|`$/g, '');
    };
    // One row may document several keys alike: `run.limits.stdoutBytes` / `run.limits.stderrBytes`.
    for (const key of col('key').split(/`\s*\/\s*`/)) {
      rows.push({ key, type: col('type'), default: col('default') });
    }
  }
  return rows;
}
