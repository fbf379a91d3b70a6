// Messages between the webview panels (extension side: traceViewer.ts, explainPanel.ts)
// and their scripts (webview/traceView.ts, webview/explainView.ts). Types only.

import type { Span, SpanKind, TraceFinishedParams, TraceStartedParams } from '../lsp_ext.ts';
import type { StreamState } from '../llmModel.ts';
import type { TraceFilter } from '../traceModel.ts';

/** Extension → webview. */
export type ToWebview =
  | { type: 'init'; filter: TraceFilter; workspaces: string[]; kinds: readonly SpanKind[] }
  | { type: 'workspaces'; workspaces: string[] }
  | { type: 'page'; reset: boolean; traces: Span[]; nextCursor: string | null }
  | { type: 'started'; span: TraceStartedParams }
  | { type: 'finished'; end: TraceFinishedParams }
  | { type: 'status'; text: string; error?: boolean };

/** Webview → extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'query'; filter: TraceFilter }
  /** The caller part of the filter changed (the webview applies it itself). */
  | { type: 'caller'; filter: TraceFilter }
  | { type: 'more' }
  | { type: 'open'; uri: string };

/** Extension → explanation panel (explainPanel.ts → webview/explainView.ts). */
export type ExplainToWebview =
  | ExplainUpdate
  /** The outcome of a code block's Copy or Insert button. */
  | { type: 'done'; action: 'copy' | 'insert'; ok: boolean; message: string };

export type ExplainUpdate = {
  type: 'update';
  requestId: string;
  title: string;
  /** The reply so far (or whole), Markdown. */
  markdown: string;
  state: StreamState;
  /** The line under the reply: progress, or the summary once done. */
  status: string;
  chunks: number;
  cached: boolean;
};

/** Explanation panel → extension. */
export type ExplainFromWebview =
  | { type: 'ready' }
  | { type: 'cancel' }
  | { type: 'retry' }
  /** A code block's Copy button: the block's text to the clipboard. */
  | { type: 'copy'; code: string }
  /** A code block's Insert button: the block's text at the cursor of the explained file. */
  | { type: 'insert'; code: string };
