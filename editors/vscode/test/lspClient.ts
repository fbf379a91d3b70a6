// A minimal LSP client over stdio for tests that talk to the real `warden lsp`: framed
// JSON-RPC, requests with ids, answers to the server's requests, and every notification
// kept for assertions.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';

export interface Message {
  jsonrpc: '2.0';
  id?: number | string;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string };
}

export class LspClient {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly notifications: Message[] = [];
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (m: Message) => void>();
  private readonly waiters: (() => void)[] = [];
  /** Answers requests from the server, by method. */
  onServerRequest: (method: string, params: unknown) => unknown = () => null;
  stderr = '';

  constructor(binary: string, env: NodeJS.ProcessEnv) {
    this.proc = spawn(binary, ['lsp'], { env: { ...process.env, ...env } });
    this.proc.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.proc.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        return;
      }
      const header = this.buffer.subarray(0, headerEnd).toString();
      const length = Number(/content-length:\s*(\d+)/i.exec(header)?.[1]);
      if (this.buffer.length < headerEnd + 4 + length) {
        return;
      }
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + length).toString();
      this.buffer = this.buffer.subarray(headerEnd + 4 + length);
      this.dispatch(JSON.parse(body) as Message);
    }
  }

  private dispatch(m: Message): void {
    if (m.method !== undefined && m.id !== undefined) {
      this.send({ jsonrpc: '2.0', id: m.id, result: this.onServerRequest(m.method, m.params) ?? null });
    } else if (m.method !== undefined) {
      this.notifications.push(m);
      this.waiters.splice(0).forEach((w) => w());
    } else if (typeof m.id === 'number') {
      this.pending.get(m.id)?.(m);
      this.pending.delete(m.id);
    }
  }

  send(m: Message): void {
    const body = Buffer.from(JSON.stringify(m));
    this.proc.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  request(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      this.send({ jsonrpc: '2.0', id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: '2.0', method, params });
  }

  /** Resolves with the first notification `pick` accepts, or rejects after `ms`. */
  waitFor(pick: (m: Message) => boolean, ms = 10_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching notification within ${ms} ms; stderr:\n${this.stderr}`)), ms);
      const check = (): void => {
        const found = this.notifications.find(pick);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        } else {
          this.waiters.push(check);
        }
      };
      check();
    });
  }

  async shutdown(): Promise<void> {
    try {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.request('shutdown', null), new Promise((r) => (timer = setTimeout(r, 3000)))]);
      clearTimeout(timer);
      this.notify('exit', null);
    } finally {
      await new Promise<void>((resolve) => {
        if (this.proc.exitCode !== null) {
          resolve();
          return;
        }
        const t = setTimeout(() => {
          this.proc.kill('SIGKILL');
          resolve();
        }, 3000);
        this.proc.on('exit', () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
