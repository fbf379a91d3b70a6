// The trace viewer panel, extension side: one webview tab that pages through
// `warden/traces` (newest first, `nextCursor` for older pages, filtered by workspace and
// kind), forwards live `warden/traceStarted`/`warden/traceFinished` notifications, and
// reloads after a server restart. The filter by caller (warden's own actions, the LLM
// gateway's calls, one gateway client) is the webview's; the panel only remembers it.
// Rendering happens in webview/traceView.ts.

import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { message } from './ctx.ts';
import { REQ_TRACES, SPAN_KINDS } from './lsp_ext.ts';
import { serverFilter, type TraceFilter } from './traceModel.ts';
import type { FromWebview, ToWebview } from './webview/messages.ts';

export const PAGE_SIZE = 100;

export class TraceViewer implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private filter: TraceFilter = {};
  private cursor: string | null = null;
  private loading = false;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: Ctx;
  private readonly extensionUri: vscode.Uri;

  constructor(ctx: Ctx, extensionUri: vscode.Uri) {
    this.ctx = ctx;
    this.extensionUri = extensionUri;
    this.disposables.push(
      ctx.onTraceStarted((span) => this.post({ type: 'started', span })),
      ctx.onTraceFinished((end) => this.post({ type: 'finished', end })),
      ctx.onDidChangeWorkspaces(() => this.post({ type: 'workspaces', workspaces: this.workspaceNames() })),
      ctx.onDidChangeState((s) => {
        if (s.kind === 'running' && this.panel) {
          void this.query(this.filter); // spans may have happened while it was down
        } else if (s.kind !== 'running') {
          this.post({ type: 'status', text: 'warden is not running; live updates resume when it restarts', error: true });
        }
      }),
    );
  }

  show(filter?: TraceFilter): void {
    if (this.panel) {
      this.panel.reveal();
      if (filter) {
        this.filter = filter;
        this.post({ type: 'init', filter, workspaces: this.workspaceNames(), kinds: SPAN_KINDS });
        void this.query(filter);
      }
      return;
    }
    this.filter = filter ?? {};
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    const dist = vscode.Uri.joinPath(this.extensionUri, 'dist');
    const panel = vscode.window.createWebviewPanel('warden.traces', 'warden traces', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [media, dist],
    });
    // A themed pair: one `currentColor` SVG renders black on the dark tab bar.
    panel.iconPath = {
      light: vscode.Uri.joinPath(media, 'warden-light.svg'),
      dark: vscode.Uri.joinPath(media, 'warden-dark.svg'),
    };
    panel.webview.html = this.html(panel.webview, media, dist);
    panel.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m), undefined, this.disposables);
    panel.onDidDispose(() => {
      this.panel = undefined;
    });
    this.panel = panel;
  }

  private workspaceNames(): string[] {
    return this.ctx.workspaces.map((w) => w.name);
  }

  private post(m: ToWebview): void {
    void this.panel?.webview.postMessage(m);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.post({ type: 'init', filter: this.filter, workspaces: this.workspaceNames(), kinds: SPAN_KINDS });
        await this.query(this.filter);
        break;
      case 'query':
        await this.query(m.filter);
        break;
      case 'caller':
        // Applied by the webview to what it holds: nothing to load.
        this.filter = m.filter;
        break;
      case 'more':
        await this.more();
        break;
      case 'open':
        await vscode.window.showTextDocument(vscode.Uri.parse(m.uri), { preview: true });
        break;
    }
  }

  private async query(filter: TraceFilter): Promise<void> {
    this.filter = filter;
    this.cursor = null;
    await this.load(true);
  }

  private async more(): Promise<void> {
    if (this.cursor) {
      await this.load(false);
    }
  }

  private async load(reset: boolean): Promise<void> {
    if (this.loading && !reset) {
      return;
    }
    this.loading = true;
    const filter = serverFilter(this.filter);
    const key = JSON.stringify(filter);
    try {
      const result = await this.ctx.request(REQ_TRACES, {
        ...filter,
        limit: PAGE_SIZE,
        ...(reset || !this.cursor ? {} : { cursor: this.cursor }),
      });
      if (key !== JSON.stringify(serverFilter(this.filter))) {
        return; // the filter changed meanwhile; that query answers
      }
      this.cursor = result.nextCursor;
      this.post({ type: 'page', reset, traces: result.traces, nextCursor: result.nextCursor });
    } catch (err) {
      this.post({ type: 'status', text: `Could not load traces: ${message(err)}`, error: true });
    } finally {
      this.loading = false;
    }
  }

  private html(webview: vscode.Webview, media: vscode.Uri, dist: vscode.Uri): string {
    const nonce = randomBytes(16).toString('hex');
    const css = webview.asWebviewUri(vscode.Uri.joinPath(media, 'traceView.css'));
    const js = webview.asWebviewUri(vscode.Uri.joinPath(dist, 'traceView.js'));
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${css}">
<title>warden traces</title>
</head>
<body>
<header class="toolbar">
  <label>Workspace <select id="workspace"><option value="">all</option></select></label>
  <label>Kind <select id="kind"><option value="">all</option></select></label>
  <label>Client <select id="caller" title="warden's own actions, or the calls through the LLM gateway (of one client: its User-Agent)"><option value="">all</option></select></label>
  <button id="refresh" title="Reload the newest spans">Refresh</button>
  <span id="status" class="status"></span>
</header>
<div class="legend">
  <span class="lat fast">&lt; 100 ms</span><span class="lat medium">&lt; 1 s</span><span class="lat slow">&lt; 10 s</span><span class="lat very-slow">≥ 10 s</span><span class="lat running">running</span>
</div>
<main id="traces" aria-live="polite"></main>
<footer><button id="more">Load older spans</button><span id="end" class="status"></span></footer>
<script nonce="${nonce}" src="${js}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.panel?.dispose();
    this.disposables.forEach((d) => d.dispose());
  }
}
