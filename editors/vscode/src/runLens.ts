// CodeLens on scripts, provided by the extension: *▶ Run* and *Run with input…* on line
// 0 of Python, shell and JavaScript files (or any file under a `warden.run.scripts`
// glob), and *Run all* when the file is one of the workspace's scripts. Turned off with
// `warden.run.codeLens`.

import * as vscode from 'vscode';
import { SCRIPT_LANGUAGES } from './runModel.ts';

export const CMD_RUN_WITH_INPUT = 'warden.runWithInput';

/** Whether a document is one of its workspace folder's scripts (`warden.run.scripts`). */
export function isScript(doc: vscode.TextDocument): boolean {
  const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
  if (!folder) {
    return false;
  }
  const globs = vscode.workspace.getConfiguration('warden', doc.uri).get<string[]>('run.scripts') ?? ['scripts/**'];
  return globs.some((g) => vscode.languages.match({ pattern: new vscode.RelativePattern(folder, g) }, doc) > 0);
}

export class RunLensProvider implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;
  private readonly disposables: vscode.Disposable[] = [this.emitter];

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('warden.run.codeLens') || e.affectsConfiguration('warden.run.scripts')) {
          this.emitter.fire();
        }
      }),
    );
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    if (doc.uri.scheme !== 'file' || !vscode.workspace.getConfiguration('warden', doc.uri).get<boolean>('run.codeLens', true)) {
      return [];
    }
    const script = isScript(doc);
    if (!script && !SCRIPT_LANGUAGES.includes(doc.languageId)) {
      return [];
    }
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [
      new vscode.CodeLens(top, { title: '▶ Run', tooltip: 'Run this file in a sandbox (warden)', command: 'warden.run', arguments: [doc.uri] }),
      new vscode.CodeLens(top, {
        title: 'Run with input…',
        tooltip: 'Pick an input file and run this file with it',
        command: CMD_RUN_WITH_INPUT,
        arguments: [doc.uri],
      }),
    ];
    if (script) {
      lenses.push(
        new vscode.CodeLens(top, {
          title: 'Run all',
          tooltip: "Run every script of this workspace in run-all order",
          command: 'warden.runAll',
          arguments: [doc.uri],
        }),
      );
    }
    return lenses;
  }

  dispose(): void {
    this.disposables.forEach((d) => d.dispose());
  }
}
