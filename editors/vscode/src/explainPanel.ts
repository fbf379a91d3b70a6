// The explanation panel: one webview tab ("warden: explain") showing the reply of the
// current `warden.llm.explain` request as Markdown while it streams, then the final text
// with its summary (model, tokens, cost, response cache hit, time). Closing the tab, or
// its Cancel button, while the reply streams cancels the request; once it ended, its
// Retry button asks the model again (the runner's retry: `noCache: true`). A new
// explanation takes the tab over (cancelling one still streaming). Code blocks' Copy
// (clipboard) and Insert (at the cursor of the explained file, one undoable edit) buttons
// are answered here. Rendering happens in webview/explainView.ts.

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { LlmStream } from './llmModel.ts';
import type { ExplainFromWebview, ExplainToWebview, ExplainUpdate } from './webview/messages.ts';

export class ExplainPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private stream: LlmStream | undefined;
  private ready = false;
  /** The file explained: where a code block's Insert goes. */
  private target: vscode.Uri | undefined;
  private scheduled: NodeJS.Timeout | undefined;
  private readonly extensionUri: vscode.Uri;
  /** Asks the server to cancel a request (the runner's cancel). */
  private readonly cancel: (requestId: string) => void;
  /** Runs an ended request again without the response cache (the runner's retry). */
  private readonly retry: (stream: LlmStream) => void;

  constructor(extensionUri: vscode.Uri, cancel: (requestId: string) => void, retry: (stream: LlmStream) => void) {
    this.extensionUri = extensionUri;
    this.cancel = cancel;
    this.retry = retry;
  }

  /** Shows `stream` in the panel (opened beside the editor if needed). */
  show(stream: LlmStream, target?: vscode.Uri): void {
    this.target = target ?? vscode.window.activeTextEditor?.document.uri;
    const previous = this.stream;
    if (previous && previous !== stream && previous.running) {
      this.cancel(previous.requestId);
    }
    this.stream = stream;
    if (!this.panel) {
      this.open();
    } else {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
    }
    this.update();
  }

  /** The stream changed (a chunk, the end): redraw soon. */
  update(stream?: LlmStream): void {
    if (stream && stream !== this.stream) {
      return;
    }
    if (this.scheduled) {
      return;
    }
    // At most one redraw per 30 ms; every chunk still lands in the text.
    this.scheduled = setTimeout(() => {
      this.scheduled = undefined;
      this.post();
    }, 30);
  }

  private post(): void {
    const s = this.stream;
    if (!this.panel || !this.ready || !s) {
      return;
    }
    this.panel.title = `warden: ${s.action}${s.running ? ' …' : ''}`;
    const m: ExplainUpdate = {
      type: 'update',
      requestId: s.requestId,
      title: `${capitalize(s.action)}: ${s.subject}`,
      markdown: s.text,
      state: s.state,
      status: s.status(),
      chunks: s.chunks,
      cached: s.result?.cached ?? false,
    };
    void this.panel.webview.postMessage(m);
  }

  private reply(m: ExplainToWebview): void {
    void this.panel?.webview.postMessage(m);
  }

  private async copy(code: string): Promise<void> {
    try {
      await vscode.env.clipboard.writeText(code);
      this.reply({ type: 'done', action: 'copy', ok: true, message: 'Copied' });
    } catch (err) {
      this.reply({ type: 'done', action: 'copy', ok: false, message: 'Copy failed' });
      void vscode.window.showErrorMessage(`warden: could not copy: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** The code block at the cursor (replacing the selection) of the explained file's editor. */
  private async insert(code: string): Promise<void> {
    const target = this.target;
    try {
      if (!target) {
        throw new Error('the explained file is not known');
      }
      const editor =
        vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === target.toString()) ??
        (await vscode.window.showTextDocument(target, { viewColumn: vscode.ViewColumn.One, preserveFocus: false }));
      const ok = await editor.edit((b) => b.replace(editor.selection, code));
      if (!ok) {
        throw new Error('the editor refused the edit');
      }
      await vscode.window.showTextDocument(editor.document, { viewColumn: editor.viewColumn, preserveFocus: false });
      this.reply({ type: 'done', action: 'insert', ok: true, message: 'Inserted' });
    } catch (err) {
      this.reply({ type: 'done', action: 'insert', ok: false, message: 'Insert failed' });
      void vscode.window.showErrorMessage(`warden: could not insert: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private open(): void {
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel(
      'warden.explain',
      'warden: explain',
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      { enableScripts: true, retainContextWhenHidden: true, localResourceRoots: [media, dist] },
    );
    // A themed pair: one `currentColor` SVG renders black on the dark tab bar.
    panel.iconPath = {
      light: vscode.Uri.joinPath(media, 'warden-light.svg'),
      dark: vscode.Uri.joinPath(media, 'warden-dark.svg'),
    };
    panel.webview.html = html(panel.webview, media, dist);
    panel.webview.onDidReceiveMessage((m: ExplainFromWebview) => {
      if (m.type === 'ready') {
        this.ready = true;
        this.post();
      } else if (m.type === 'cancel' && this.stream?.running) {
        this.cancel(this.stream.requestId);
      } else if (m.type === 'retry' && this.stream && !this.stream.running) {
        this.retry(this.stream);
      } else if (m.type === 'copy') {
        void this.copy(m.code);
      } else if (m.type === 'insert') {
        void this.insert(m.code);
      }
    });
    panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
      const s = this.stream;
      this.stream = undefined;
      if (s?.running) {
        this.cancel(s.requestId); // closing the tab while it streams cancels
      }
    });
    this.panel = panel;
  }

  dispose(): void {
    if (this.scheduled) {
      clearTimeout(this.scheduled);
    }
    this.panel?.dispose();
  }
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function html(webview: vscode.Webview, media: vscode.Uri, dist: vscode.Uri): string {
  const nonce = randomBytes(16).toString('hex');
  const css = webview.asWebviewUri(vscode.Uri.joinPath(media, 'explainView.css'));
  const js = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'explainView.js'));
  // No remote content: images and links to other origins are not loaded.
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; img-src ${webview.cspSource} data:; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>warden: explain</title>
</head>
<body data-state="waiting">
<header>
  <h1 id="title"></h1>
  <div class="actions">
    <button id="retry" title="Ask the model again, bypassing the response cache" hidden>Retry</button>
    <button id="cancel" title="Stop the reply (closing this tab does too)">Cancel</button>
  </div>
</header>
<main id="explain" class="markdown-body" aria-live="polite" data-updates="0"></main>
<footer id="status" class="status"></footer>
<script nonce="${nonce}" src="${js}"></script>
</body>
</html>`;
}
