// Finds the warden binary: the `warden.server.path` setting, then the binary bundled in
// the extension (`server/warden`), then `PATH`. Pure: the file system check is passed in,
// so the order and the messages are unit-tested.

import * as path from 'node:path';

export interface ServerLookup {
  /** `warden.server.path`; `~/` expands, a relative path resolves against `baseDir`. */
  setting: string | null | undefined;
  /** Where a bundled binary would be (`<extension>/server/warden`). */
  bundled: string;
  /** The `PATH` environment variable. */
  pathEnv: string | undefined;
  home: string;
  /** The first workspace folder, for relative settings. */
  baseDir: string | undefined;
  isExecutable: (file: string) => boolean;
  exeSuffix?: string;
}

export type ServerResolution =
  | { ok: true; path: string; source: 'setting' | 'bundled' | 'PATH' }
  | { ok: false; message: string; tried: string[] };

export function resolveServer(l: ServerLookup): ServerResolution {
  const setting = l.setting?.trim();
  if (setting) {
    const file = expand(setting, l.home, l.baseDir);
    if (l.isExecutable(file)) {
      return { ok: true, path: file, source: 'setting' };
    }
    // The user chose this binary: falling back to another one would hide the mistake.
    return {
      ok: false,
      message: `warden.server.path is set to "${setting}", but ${file} is not an executable file.`,
      tried: [file],
    };
  }
  const tried: string[] = [l.bundled];
  if (l.isExecutable(l.bundled)) {
    return { ok: true, path: l.bundled, source: 'bundled' };
  }
  const exe = `warden${l.exeSuffix ?? ''}`;
  for (const dir of (l.pathEnv ?? '').split(path.delimiter)) {
    if (!dir) {
      continue;
    }
    const file = path.join(dir, exe);
    tried.push(file);
    if (l.isExecutable(file)) {
      return { ok: true, path: file, source: 'PATH' };
    }
  }
  return {
    ok: false,
    message:
      'The warden language server was not found: warden.server.path is not set, the extension ' +
      'has no bundled binary, and there is no warden on PATH. Install warden or set warden.server.path.',
    tried,
  };
}

export function expand(p: string, home: string, baseDir: string | undefined): string {
  let out = p;
  if (out === '~' || out.startsWith('~/')) {
    out = path.join(home, out.slice(1));
  }
  if (!path.isAbsolute(out) && baseDir) {
    out = path.resolve(baseDir, out);
  }
  return path.normalize(out);
}
