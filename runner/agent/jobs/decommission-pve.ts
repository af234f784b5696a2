/**
 * {@link DecommissionOperations} over the Proxmox VE API with the agent's own token: the final
 * backup as a vzdump task, and the revocation of that very token (its last call).
 */
import type { BackupVolume } from '../deploy.js';
import type { ProxmoxApiOperations } from '../proxmox-api-operations.js';
import { HostOperationError, checkStorageId } from '../proxmox-operations.js';
import type { DecommissionOperations } from './decommission.js';

/** `USER@REALM!TOKENID=SECRET` → the user and token id PVE's token endpoints take. */
export function parseApiToken(token: string): { userid: string; tokenid: string } {
  const match = /^([^!=\s]+@[^!=\s]+)!([A-Za-z][A-Za-z0-9._-]*)=\S+$/.exec(token);
  if (!match) throw new HostOperationError('the Proxmox API token is not of the form USER@REALM!TOKENID=SECRET');
  return { userid: match[1]!, tokenid: match[2]! };
}

export class PveDecommissionOperations implements DecommissionOperations {
  readonly #api: ProxmoxApiOperations;
  readonly #token: { userid: string; tokenid: string };
  readonly removeTunnel?: () => Promise<void>;

  /** `token` is the agent's API token (only its user and id are kept); `removeTunnel` the host's tunnel removal, if it has one. */
  constructor(api: ProxmoxApiOperations, token: string, removeTunnel?: () => Promise<void>) {
    this.#api = api;
    this.#token = parseApiToken(token);
    if (removeTunnel) this.removeTunnel = removeTunnel;
  }

  async backupNow(vmIds: readonly number[], storage: string): Promise<BackupVolume[]> {
    checkStorageId(storage);
    const before = new Set((await this.#api.listBackups(storage)).map((volume) => volume.volid));
    try {
      await this.#api.client.runTask('POST', this.#api.node, `/nodes/${encodeURIComponent(this.#api.node)}/vzdump`, { vmid: vmIds.join(','), storage, mode: 'snapshot' });
    } catch (error) {
      throw new HostOperationError(`the final backup to ${storage} failed: ${(error as Error).message}`, { cause: error });
    }
    const fresh = (await this.#api.listBackups(storage)).filter((volume) => !before.has(volume.volid) && vmIds.includes(volume.vmId));
    // The newest archive per guest, should a scheduled job have run in the same minute.
    return vmIds.flatMap((vmId) => fresh.filter((volume) => volume.vmId === vmId).sort((a, b) => b.ctime - a.ctime).slice(0, 1));
  }

  async revokeApiToken(): Promise<void> {
    const { userid, tokenid } = this.#token;
    try {
      await this.#api.client.delete(`/access/users/${encodeURIComponent(userid)}/token/${encodeURIComponent(tokenid)}`);
    } catch (error) {
      throw new HostOperationError(`revoking the Proxmox API token ${userid}!${tokenid} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
