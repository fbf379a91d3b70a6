// Messages between the trace viewer panel (extension side, traceViewer.ts) and its
// webview script (webview/traceView.ts). Types only.

import type { Span, SpanKind, TraceFinishedParams, TraceStartedParams } from '../lsp_ext.ts';
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
  | { type: 'more' }
  | { type: 'open'; uri: string };
