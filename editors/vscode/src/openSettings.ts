// Opens the Settings editor on the tab where a warden setting takes effect: the
// workspace folder or workspace tab when one of them sets it, the Remote tab for
// machine-scoped settings (`warden.server.path`, `warden.database.path`) in a remote
// window (code-server, SSH, containers), where the User tab shows them as not
// applicable, else the User tab. The choice itself is pure (settings.ts).

import * as vscode from 'vscode';
import { settingsTarget, type SettingsTarget } from './settings.ts';

/** Settings contributed with `"scope": "machine"` or `"machine-overridable"`. */
const MACHINE_SCOPED = new Set(['warden.server.path', 'warden.database.path']);

const COMMAND: Record<SettingsTarget, string> = {
  workspaceFolder: 'workbench.action.openFolderSettings',
  workspace: 'workbench.action.openWorkspaceSettings',
  remote: 'workbench.action.openRemoteSettings',
  user: 'workbench.action.openGlobalSettings',
};

/** Where `key` is edited in this window. */
export function targetOf(key: string): SettingsTarget {
  const section = key.slice(0, key.indexOf('.'));
  const info = vscode.workspace.getConfiguration(section).inspect(key.slice(section.length + 1));
  return settingsTarget({
    workspaceFolderValue: info?.workspaceFolderValue,
    workspaceValue: info?.workspaceValue,
    machineScoped: MACHINE_SCOPED.has(key),
    // code-server is a web UI over a remote extension host, like SSH and containers.
    remote: vscode.env.remoteName !== undefined || vscode.env.uiKind === vscode.UIKind.Web,
  });
}

/** Opens the Settings editor filtered to `query`, on the tab where `key` takes effect. */
export async function openSetting(key: string, query = key): Promise<SettingsTarget> {
  const target = targetOf(key);
  try {
    await vscode.commands.executeCommand(COMMAND[target], { query });
  } catch {
    await vscode.commands.executeCommand('workbench.action.openSettings', query);
  }
  return target;
}

/** The LLM settings (provider, model, providers), where `warden.llm.model` takes effect. */
export function openLlmSettings(): Thenable<SettingsTarget> {
  return openSetting('warden.llm.model', 'warden.llm');
}
