// Server-initiated work-done progress (`window/workDoneProgress/create` + `$/progress`):
// every begun task shows in the status bar, and a command can follow one task by its token
// (the scan command does) to show it as a notification with a Cancel button, which sends
// `window/workDoneProgress/cancel`. Replaces vscode-languageclient's progress feature so a
// token can be followed even when its `begin` arrived before the command's result.

import * as vscode from 'vscode';
import {
  type BaseLanguageClient,
  type ClientCapabilities,
  type FeatureState,
  type ProgressToken,
  type StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  type WorkDoneProgressBegin,
  type WorkDoneProgressEnd,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';

type Value = WorkDoneProgressBegin | WorkDoneProgressReport | WorkDoneProgressEnd;

interface Task {
  token: ProgressToken;
  title?: string;
  message?: string;
  percentage?: number;
  done: boolean;
  endMessage?: string;
  listeners: Set<() => void>;
  dispose: vscode.Disposable[];
}

/** How a followed task ended. */
export interface TaskEnd {
  title?: string;
  message?: string;
  cancelled: boolean;
}

export class ProgressTracker implements StaticFeature {
  private readonly tasks = new Map<string, Task>();
  /** Ends of tasks nobody followed yet, briefly, for a command whose result came late. */
  private readonly recentEnds = new Map<string, { title?: string; message?: string }>();
  private readonly client: BaseLanguageClient;

  constructor(client: BaseLanguageClient) {
    this.client = client;
  }

  getState(): FeatureState {
    return { kind: 'static' };
  }

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = capabilities.window ?? {};
    capabilities.window.workDoneProgress = true;
  }

  initialize(): void {
    this.client.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
      this.create(params.token);
    });
  }

  clear(): void {
    for (const task of this.tasks.values()) {
      this.finish(task, undefined);
    }
    this.tasks.clear();
  }

  private create(token: ProgressToken): void {
    const key = String(token);
    if (this.tasks.has(key)) {
      return;
    }
    const task: Task = { token, done: false, listeners: new Set(), dispose: [] };
    this.tasks.set(key, task);
    task.dispose.push(
      this.client.onProgress(WorkDoneProgress.type, token, (value: Value) => {
        switch (value.kind) {
          case 'begin':
            task.title = value.title;
            task.message = value.message;
            task.percentage = value.percentage;
            this.showInWindow(task);
            break;
          case 'report':
            task.message = value.message ?? task.message;
            task.percentage = value.percentage ?? task.percentage;
            break;
          case 'end':
            this.finish(task, value.message);
            return;
        }
        task.listeners.forEach((l) => l());
      }),
    );
  }

  private showInWindow(task: Task): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: task.title ?? 'warden' },
      (progress) =>
        new Promise<void>((resolve) => {
          const update = (): void => {
            if (task.done) {
              resolve();
            } else {
              progress.report({ message: task.message });
            }
          };
          task.listeners.add(update);
          update();
        }),
    );
  }

  private finish(task: Task, message: string | undefined): void {
    if (task.done) {
      return;
    }
    task.done = true;
    task.endMessage = message;
    task.listeners.forEach((l) => l());
    task.listeners.clear();
    task.dispose.forEach((d) => d.dispose());
    const key = String(task.token);
    this.tasks.delete(key);
    this.recentEnds.set(key, { title: task.title, message });
    if (this.recentEnds.size > 50) {
      const oldest = this.recentEnds.keys().next().value;
      if (oldest !== undefined) {
        this.recentEnds.delete(oldest);
      }
    }
  }

  /**
   * Shows the task as a notification with Cancel until it ends; resolves with its end.
   * Works whether the task has begun, is still to begin, or has already ended.
   */
  follow(token: ProgressToken, fallbackTitle: string): Promise<TaskEnd> {
    const key = String(token);
    const ended = this.recentEnds.get(key);
    if (ended) {
      return Promise.resolve({ ...ended, cancelled: false });
    }
    let task = this.tasks.get(key);
    if (!task) {
      // Created after the command answered (unusual): track it from now on.
      this.create(token);
      task = this.tasks.get(key);
    }
    const t = task as Task;
    return new Promise<TaskEnd>((resolve) => {
      void vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: t.title ?? fallbackTitle, cancellable: true },
        (progress, cancel) =>
          new Promise<void>((done) => {
            let cancelled = false;
            let last = 0;
            const update = (): void => {
              if (t.done) {
                t.listeners.delete(update);
                done();
                resolve({ title: t.title, message: t.endMessage, cancelled });
                return;
              }
              const pct = t.percentage ?? 0;
              progress.report({ message: t.message, increment: Math.max(pct - last, 0) });
              last = Math.max(pct, last);
            };
            cancel.onCancellationRequested(() => {
              cancelled = true;
              void this.client.sendNotification(WorkDoneProgressCancelNotification.type, {
                token: t.token,
              });
            });
            t.listeners.add(update);
            update();
          }),
      );
    });
  }
}
