// Reads the level of the server's stderr lines (`2026-11-21T18:41:39.227630Z  INFO
// message`, as its tracing subscriber writes them) so the "warden" log channel files each
// under its real level instead of "error". Lines in another shape (a panic message, a
// backtrace) stay errors. Pure.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+(.*)$/;

export function serverLogLine(line: string): { level: LogLevel; text: string } {
  // eslint-disable-next-line no-control-regex
  const plain = line.replace(/\u001b\[[0-9;]*m/g, '');
  const m = LINE.exec(plain);
  if (!m) {
    return { level: 'error', text: plain };
  }
  return { level: m[1].toLowerCase() as LogLevel, text: m[2] };
}
