// System prompts as editor tabs: a file system for `warden-prompt:/<name> system
// prompt.md` whose reads run `warden.workspace.showSystemPrompt` and whose saves run
// `warden.workspace.setSystemPrompt` (saving an empty document clears the prompt set by
// command, falling back to `.warden.toml`, then settings). Open tabs reload when the
// server reports a changed prompt.

import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { CMD_WORKSPACE_SET_SYSTEM_PROMPT, CMD_WORKSPACE_SHOW_SYSTEM_PROMPT } from './lsp_ext.ts';
import { PROMPT_SCHEME, promptPath, promptSourceLabel, workspaceFromPromptPath } from './workspaceModel.ts';

export function promptUri(name: string): vscode.Uri {
  return vscode.Uri.from({ scheme: PROMPT_SCHEME, path: promptPath(name) });
}

export async function openPrompt(name: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(promptUri(name));
  await vscode.window.showTextDocument(doc, { preview: false });
}

export class PromptFileSystem implements vscode.FileSystemProvider {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;
  /** Last known prompt and a modification counter per workspace, for stat(). */
  private readonly known = new Map<string, { text: string; mtime: number; source: string }>();
  private readonly ctx: Ctx;

  constructor(ctx: Ctx) {
    this.ctx = ctx;
    ctx.onDidChangeWorkspaces((p) => {
      const changed: vscode.FileChangeEvent[] = [];
      for (const w of p.workspaces) {
        const entry = this.known.get(w.name);
        if (entry && entry.text !== (w.systemPrompt ?? '')) {
          entry.text = w.systemPrompt ?? '';
          entry.mtime = Date.now();
          changed.push({ type: vscode.FileChangeType.Changed, uri: promptUri(w.name) });
        }
      }
      if (changed.length) {
        this.emitter.fire(changed);
      }
    });
  }

  private nameOf(uri: vscode.Uri): string {
    const name = workspaceFromPromptPath(uri.path);
    if (!name) {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
    return name;
  }

  private async load(name: string, uri: vscode.Uri): Promise<{ text: string; mtime: number; source: string }> {
    let result;
    try {
      result = await this.ctx.command(CMD_WORKSPACE_SHOW_SYSTEM_PROMPT, { name });
    } catch (err) {
      throw vscode.FileSystemError.Unavailable(`${uri.path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = result.prompt ?? '';
    const previous = this.known.get(name);
    const entry = {
      text,
      mtime: previous && previous.text === text ? previous.mtime : Date.now(),
      source: promptSourceLabel(result.source),
    };
    this.known.set(name, entry);
    return entry;
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const name = this.nameOf(uri);
    const entry = this.known.get(name) ?? (await this.load(name, uri));
    return {
      type: vscode.FileType.File,
      ctime: 0,
      mtime: entry.mtime,
      size: Buffer.byteLength(entry.text),
    };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const entry = await this.load(this.nameOf(uri), uri);
    return Buffer.from(entry.text, 'utf8');
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const name = this.nameOf(uri);
    const text = Buffer.from(content).toString('utf8');
    const prompt = text.trim().length === 0 ? null : text;
    // Errors (too long, unknown workspace, server stopped) fail the save with the server's words.
    const result = await this.ctx.command(CMD_WORKSPACE_SET_SYSTEM_PROMPT, { name, prompt });
    const effective = result.prompt ?? '';
    this.known.set(name, { text: effective, mtime: Date.now(), source: promptSourceLabel(result.source) });
    vscode.window.setStatusBarMessage(
      prompt === null
        ? `warden: cleared ${name}'s system prompt; now ${promptSourceLabel(result.source)}`
        : `warden: saved ${name}'s system prompt`,
      5000,
    );
    if (effective !== text) {
      // Cleared: show what applies now.
      this.emitter.fire([{ type: vscode.FileChangeType.Changed, uri }]);
    }
  }

  /** Where the prompt shown in a tab comes from, once it has been read. */
  sourceOf(name: string): string | undefined {
    return this.known.get(name)?.source;
  }

  watch(): vscode.Disposable {
    return new vscode.Disposable(() => undefined);
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions('warden prompts have no folders');
  }

  delete(): void {
    throw vscode.FileSystemError.NoPermissions('clear a prompt by saving it empty');
  }

  rename(): void {
    throw vscode.FileSystemError.NoPermissions('rename the workspace instead');
  }
}
