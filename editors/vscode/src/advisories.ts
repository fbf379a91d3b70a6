// *Warden: Download Advisories Now* (`warden.packages.updateAdvisories`): asks which
// ecosystems with a multi-select quick pick (those of the workspace's manifests, and
// those a diagnostic says have missing or old data, picked already; each row says how
// old its data is), runs the server command, and follows its progress as a notification
// with Cancel. The server says the outcome itself (`window/showMessage`). Also the
// ecosystems the workspace uses, for the status report.

import * as vscode from 'vscode';
import { type Ecosystem, ecosystemChoices, ecosystemOfManifest, MANIFEST_EXCLUDE, MANIFEST_GLOB, updateArgs } from './advisoriesModel.ts';
import type { Ctx } from './ctx.ts';
import { CMD_PACKAGES_UPDATE_ADVISORIES, type ServerCommands } from './lsp_ext.ts';
import type { AdvisoryRow } from './statusModel.ts';

type Started = ServerCommands[typeof CMD_PACKAGES_UPDATE_ADVISORIES]['result'];

/** Diagnostics saying an ecosystem's data is missing or old (`advisories-missing`, `-stale`). */
const FRESHNESS_CODES = new Set(['advisories-missing', 'advisories-stale']);

/**
 * The ecosystems the open folders use: their manifests (installed packages and build
 * output left out), and the manifests warden has said lack current data.
 */
export async function ecosystemsInWorkspace(): Promise<Set<Ecosystem>> {
  const used = new Set<Ecosystem>();
  for (const [uri, diagnostics] of vscode.languages.getDiagnostics()) {
    if (diagnostics.some((d) => d.source === 'warden' && FRESHNESS_CODES.has(String(typeof d.code === 'object' ? d.code.value : d.code)))) {
      const eco = ecosystemOfManifest(uri.path);
      if (eco) {
        used.add(eco);
      }
    }
  }
  if (vscode.workspace.workspaceFolders?.length) {
    for (const uri of await vscode.workspace.findFiles(MANIFEST_GLOB, MANIFEST_EXCLUDE, 2000)) {
      const eco = ecosystemOfManifest(uri.path);
      if (eco) {
        used.add(eco);
      }
    }
  }
  return used;
}

/** From the palette: which ecosystems (and whether whole archives), then download. */
export async function downloadAdvisoriesNow(ctx: Ctx, rows: () => Promise<AdvisoryRow[]>): Promise<Started | undefined> {
  const [used, known] = await Promise.all([ecosystemsInWorkspace(), rows().catch(() => [] as AdvisoryRow[])]);
  const current = new Map(known.map((r) => [r.ecosystem, r.currentAsOf]));
  const choices = ecosystemChoices(used, current);
  const picked = await vscode.window.showQuickPick(
    choices.map((c) => ({ ...c, label: c.full ? `$(sync) ${c.label}` : c.label })),
    {
      title: 'Download advisories now',
      placeHolder: used.size
        ? "Which ecosystems? This workspace's are selected"
        : 'Which ecosystems? (none picked: those of the manifests warden has seen)',
      canPickMany: true,
      ignoreFocusOut: true,
    },
  );
  if (!picked) {
    return undefined;
  }
  const result = await ctx.command(CMD_PACKAGES_UPDATE_ADVISORIES, updateArgs(picked));
  followDownload(ctx, result);
  return result;
}

/**
 * Shows a download as a notification with Cancel until it ends. The outcome is the
 * server's own message; only a cancellation is said here.
 */
export function followDownload(ctx: Ctx, started: Started): void {
  const tracker = ctx.progressTracker;
  if (!tracker) {
    return;
  }
  void tracker.follow(started.progressToken, 'warden: downloading advisories').then((end) => {
    if (end.cancelled) {
      void vscode.window.showWarningMessage('warden: the advisory download was cancelled; the data from before is kept.');
    }
  });
}
