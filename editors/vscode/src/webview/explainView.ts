// The explanation panel's webview script (bundled for the browser by esbuild): renders
// the reply it is sent as Markdown (markdown-it, raw HTML off, so the model's text can
// never add markup or scripts), with the status line under it, and asks the extension to
// cancel from its Cancel button (while the reply streams) or to ask again from its Retry
// button (once it ended). Code blocks are syntax highlighted (highlight.ts) and get Copy
// and Insert buttons (insert: at the cursor of the explained file). Every update redraws
// the whole reply; `data-updates` on the content counts the redraws (the end-to-end tests
// watch it stream).

import MarkdownIt from 'markdown-it';
import { highlight } from './highlight.ts';
import type { ExplainFromWebview, ExplainToWebview } from './messages.ts';

declare function acquireVsCodeApi(): { postMessage(m: ExplainFromWebview): void };

const vscode = acquireVsCodeApi();
const md = new MarkdownIt({
  html: false,
  linkify: false,
  typographer: false,
  breaks: false,
  // Returns escaped HTML; markdown-it wraps it in <pre><code class="language-…">.
  highlight: (code, lang) => highlight(code, lang),
});
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
  if (m.type === 'done') {
    // The extension's answer to a Copy/Insert button: say so on the button for a moment.
    const button = content.querySelector<HTMLButtonElement>(`button[data-pending="${m.action}"]`);
    if (button) {
      delete button.dataset.pending;
      button.textContent = m.message;
      button.classList.toggle('failed', !m.ok);
      setTimeout(() => (button.textContent = m.action === 'copy' ? 'Copy' : 'Insert'), 2000);
    }
    return;
  }
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
  addCodeActions(m.state === 'done' || m.state === 'cancelled' || m.state === 'failed');
  for (const a of content.querySelectorAll('a')) {
    a.title = a.getAttribute('href') ?? '';
    a.removeAttribute('href');
  }
  if (stick && (m.state === 'streaming' || m.state === 'waiting')) {
    window.scrollTo(0, document.body.scrollHeight);
  }
});

/** Copy and Insert over every code block (Insert once the reply is whole). */
function addCodeActions(ended: boolean): void {
  for (const pre of content.querySelectorAll('pre')) {
    const code = pre.querySelector('code')?.textContent ?? pre.textContent ?? '';
    const bar = document.createElement('div');
    bar.className = 'code-actions';
    const button = (action: 'copy' | 'insert', label: string, tip: string): HTMLButtonElement => {
      const b = document.createElement('button');
      b.className = `code-${action}`;
      b.textContent = label;
      b.title = tip;
      b.addEventListener('click', () => {
        b.dataset.pending = action;
        vscode.postMessage({ type: action, code });
      });
      return b;
    };
    bar.append(button('copy', 'Copy', 'Copy this code block'));
    if (ended) {
      bar.append(button('insert', 'Insert', 'Insert this code block at the cursor of the explained file'));
    }
    pre.classList.add('with-actions');
    pre.prepend(bar);
  }
}

vscode.postMessage({ type: 'ready' });
