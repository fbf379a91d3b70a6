// *Warden: Search Workspace* (`warden.search`): a quick pick over `warden/search`, the
// server's full-text search of the open workspaces' indexed files. Results come live as
// the user types (150 ms after the last key; the request before is cancelled and its
// answer, should it still come, ignored); the server filters, so VS Code shows every row
// it sends, in its order. Moving through the rows previews the file at the match (a
// preview tab, focus staying in the pick); Enter opens it for good; Escape goes back to
// the editor the search started from. A title button (or `/EXPR/`) switches to regular
// expressions; leading `glob=PATTERN` words narrow the files. The title says how many
// lines matched, whether more were left out, and what was wrong with an invalid
// expression. Rows and timing logic live in searchModel.ts.

import * as vscode from 'vscode';
import { ResponseError } from 'vscode-languageclient/node';
import { type Ctx, message } from './ctx.ts';
import { REQ_SEARCH, type Range } from './lsp_ext.ts';
import {
  Debouncer,
  errorText,
  parseQuery,
  type ParsedQuery,
  resultTitle,
  rows,
  SEARCH_DEBOUNCE_MS,
  type SearchRow,
  searchParams,
  Sequencer,
} from './searchModel.ts';

export const CMD_SEARCH = 'warden.search';

const TITLE = 'Search Workspace';
const PLACEHOLDER = 'Text to find in the workspace files; /EXPR/ for a regular expression; glob=PATTERN first to narrow the files';
/** JSON-RPC `RequestCancelled`. */
const REQUEST_CANCELLED = -32800;

type Item = vscode.QuickPickItem & { row?: SearchRow };

function toRange(r: Range): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}

/** The selected text of the active editor, when it is a short piece of one line. */
function initialQuery(): string {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.selection.isEmpty || !editor.selection.isSingleLine) {
    return '';
  }
  const text = editor.document.getText(editor.selection);
  return text.length <= 200 ? text : '';
}

/** Opens the search quick pick (throws NotRunningError when the server is not running). */
export async function searchWorkspace(ctx: Ctx): Promise<void> {
  ctx.ensureRunning();
  const origin = vscode.window.activeTextEditor;
  const originSelection = origin?.selection;
  let regex = false;
  let accepted = false;
  let previewed = false;
  let source: vscode.CancellationTokenSource | undefined;
  const sequencer = new Sequencer();
  const debounce = new Debouncer(SEARCH_DEBOUNCE_MS);

  const qp = vscode.window.createQuickPick<Item>();
  qp.title = TITLE;
  qp.placeholder = PLACEHOLDER;
  // The server has filtered: every row stays, in its order (best files first).
  qp.matchOnDescription = false;
  qp.matchOnDetail = false;
  try {
    // Stable since VS Code 1.9x; a proposal before (its setter throws there).
    (qp as { sortByLabel?: boolean }).sortByLabel = false;
  } catch {
    // an older VS Code sorts rows whose label matches the input first; harmless
  }
  const regexButton = (): vscode.QuickInputButton => ({
    iconPath: new vscode.ThemeIcon(regex ? 'regex' : 'whole-word'),
    tooltip: regex ? 'Regular expression: on (click for literal text)' : 'Literal text (click for a regular expression)',
  });
  qp.buttons = [regexButton()];

  const cancelInFlight = (): void => {
    source?.cancel();
    source?.dispose();
    source = undefined;
  };

  const search = async (q: ParsedQuery): Promise<void> => {
    cancelInFlight();
    const seq = sequencer.next();
    const mine = new vscode.CancellationTokenSource();
    source = mine;
    qp.busy = true;
    try {
      const result = await ctx.request(REQ_SEARCH, searchParams(q), mine.token);
      if (!sequencer.isCurrent(seq)) {
        return;
      }
      qp.title = resultTitle(result, q);
      qp.items = rows(result).map((r) => ({
        label: r.label,
        description: r.description,
        detail: r.detail,
        alwaysShow: true,
        row: r,
      }));
    } catch (err) {
      if (!sequencer.isCurrent(seq) || mine.token.isCancellationRequested) {
        return;
      }
      if (err instanceof ResponseError && err.code === REQUEST_CANCELLED) {
        return;
      }
      const text = errorText(err instanceof ResponseError ? err.message : message(err));
      qp.title = `${TITLE}: ${text}`;
      qp.items = [{ label: `$(error) ${text}`, alwaysShow: true }];
    } finally {
      if (sequencer.isCurrent(seq)) {
        qp.busy = false;
      }
      if (source === mine) {
        source = undefined;
      }
      mine.dispose();
    }
  };

  const update = (now: boolean): void => {
    const q = parseQuery(qp.value, regex);
    if (!q) {
      debounce.cancel();
      cancelInFlight();
      sequencer.invalidate();
      qp.busy = false;
      qp.title = TITLE;
      qp.items = [];
      return;
    }
    debounce.call(() => void search(q));
    if (now) {
      debounce.flush();
    }
  };

  qp.onDidChangeValue(() => update(false));
  qp.onDidTriggerButton(() => {
    regex = !regex;
    qp.buttons = [regexButton()];
    update(true);
  });
  qp.onDidChangeActive((active) => {
    const row = active[0]?.row;
    if (!row || accepted) {
      return;
    }
    previewed = true;
    void vscode.window.showTextDocument(vscode.Uri.parse(row.uri), {
      preview: true,
      preserveFocus: true,
      selection: toRange(row.range),
    }).then(undefined, () => undefined);
  });
  qp.onDidAccept(() => {
    const row = qp.selectedItems[0]?.row ?? qp.activeItems[0]?.row;
    if (!row) {
      return; // the error row
    }
    accepted = true;
    qp.hide();
    void vscode.window.showTextDocument(vscode.Uri.parse(row.uri), { preview: false, selection: toRange(row.range) });
  });
  qp.onDidHide(() => {
    debounce.cancel();
    cancelInFlight();
    sequencer.invalidate();
    qp.dispose();
    // Escape after previewing: back where the search started.
    if (!accepted && previewed && origin && !origin.document.isClosed) {
      void vscode.window
        .showTextDocument(origin.document, { viewColumn: origin.viewColumn, selection: originSelection })
        .then(undefined, () => undefined);
    }
  });
  qp.value = initialQuery();
  qp.show();
  update(true);
}
