// The explanation panel's webview script (bundled for the browser by esbuild): renders
// the reply it is sent as Markdown (markdown-it, raw HTML off, so the model's text can
// never add markup or scripts), with the status line under it, and asks the extension to
// cancel from its Cancel button (while the reply streams) or to ask again from its Retry
// button (once it ended). Every update redraws the whole reply; `data-updates` on
// the content counts the redraws (the end-to-end tests watch it stream).

import MarkdownIt from 'markdown-it';
import type { ExplainFromWebview, ExplainToWebview } from './messages.ts';

declare function acquireVsCodeApi(): { postMessage(m: ExplainFromWebview): void };

const vscode = acquireVsCodeApi();
const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });
// Links open nowhere inside the panel; show where they point instead.
md.validateLink = (url: string): boolean => /^https?:/i.test(url);

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const content = $<HTMLElement>('explain');
const title = $<HTMLElement>('title');
const status = $<HTMLElement>('status');
const cancel = $<HTMLButtonElement>('cancel');
const retry = $<HTMLButtonElement>('retry');
let updates = 0;
let shownRequest = '';

cancel.addEventListener('click', () => {
  cancel.disabled = true;
  vscode.postMessage({ type: 'cancel' });
});

retry.addEventListener('click', () => {
  retry.disabled = true;
  vscode.postMessage({ type: 'retry' });
});

window.addEventListener('message', (event: MessageEvent<ExplainToWebview>) => {
  const m = event.data;
  if (m.type !== 'update') {
    return;
  }
  if (m.requestId !== shownRequest) {
    shownRequest = m.requestId;
    updates = 0;
    cancel.disabled = false;
    retry.disabled = false;
  }
  updates += 1;
  title.textContent = m.title;
  const stick = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  content.innerHTML = md.render(m.markdown);
  content.dataset.updates = String(updates);
  content.dataset.requestId = m.requestId;
  document.body.dataset.state = m.state;
  document.body.dataset.cached = String(m.cached);
  status.textContent = m.status;
  const running = m.state === 'waiting' || m.state === 'streaming';
  cancel.hidden = !running;
  retry.hidden = running;
  for (const a of content.querySelectorAll('a')) {
    a.title = a.getAttribute('href') ?? '';
    a.removeAttribute('href');
  }
  if (stick && (m.state === 'streaming' || m.state === 'waiting')) {
    window.scrollTo(0, document.body.scrollHeight);
  }
});

vscode.postMessage({ type: 'ready' });
