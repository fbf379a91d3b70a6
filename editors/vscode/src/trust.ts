// Repository configuration trust in VS Code: *Warden: Trust Repository Configuration*
// shows what the active file's repository `.warden.toml` holds back (keys that change
// where data goes or what is guarded) in a modal dialog and, once confirmed, trusts that
// exact content (`warden.config.trust {root, sha256}`); *Untrust* takes it back. The
// server's own *Trust this configuration* prompt and quick fix lead to the same command.

import * as vscode from 'vscode';
import type { Ctx } from './ctx.ts';
import { CMD_CONFIG_TRUST, CMD_CONFIG_UNTRUST, type ConfigTrustInfo, REQ_CONFIG_TRUST } from './lsp_ext.ts';
import { describeHeld, pickRoot } from './trustModel.ts';

const TRUST = 'Trust This Configuration';

async function rootFor(ctx: Ctx, wanted: (r: ConfigTrustInfo) => boolean): Promise<ConfigTrustInfo | undefined> {
  const { roots } = await ctx.request(REQ_CONFIG_TRUST, {});
  const file = vscode.window.activeTextEditor?.document.uri;
  const picked = pickRoot(roots, file?.scheme === 'file' ? file.fsPath : undefined, wanted);
  if (typeof picked === 'string') {
    void vscode.window.showInformationMessage(`Warden: ${picked}.`);
    return undefined;
  }
  return picked;
}

export function reportTrust(info: ConfigTrustInfo): void {
  void vscode.window.showInformationMessage(
    info.trusted
      ? `Warden: ${info.file} is trusted; its settings apply until the file changes.`
      : `Warden: ${info.file ?? info.root} is not trusted; ${info.held.length} key(s) are ignored.`,
  );
}

/** Asks, then trusts the active repository's `.warden.toml`. */
export async function trustConfig(ctx: Ctx): Promise<ConfigTrustInfo | undefined> {
  const root = await rootFor(ctx, (r) => r.held.length > 0);
  if (!root) {
    return undefined;
  }
  if (!root.file || !root.sha256) {
    void vscode.window.showInformationMessage(`Warden: ${root.root} has no .warden.toml.`);
    return undefined;
  }
  if (root.trusted || root.held.length === 0) {
    void vscode.window.showInformationMessage(
      `Warden: ${root.file} ${root.trusted ? 'is already trusted' : 'sets only settings that apply without trust'}.`,
    );
    return undefined;
  }
  const choice = await vscode.window.showWarningMessage(
    `Trust ${root.file}?`,
    {
      modal: true,
      detail: `A repository's configuration is untrusted until you trust it. This file wants to change:\n\n${describeHeld(root)}\n\nTrust it only if you know what it does; any later change asks again.`,
    },
    TRUST,
  );
  if (choice !== TRUST) {
    return undefined;
  }
  const info = await ctx.command(CMD_CONFIG_TRUST, { root: root.root, sha256: root.sha256 });
  reportTrust(info);
  return info;
}

/** Forgets the trust in the active repository's `.warden.toml`. */
export async function untrustConfig(ctx: Ctx): Promise<ConfigTrustInfo | undefined> {
  const root = await rootFor(ctx, (r) => r.trusted);
  if (!root) {
    return undefined;
  }
  const info = await ctx.command(CMD_CONFIG_UNTRUST, { root: root.root });
  reportTrust(info);
  return info;
}
