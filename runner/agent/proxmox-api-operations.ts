/**
 * {@link HostOperations} over the Proxmox VE REST API with the agent's API token: the same
 * operations as {@link ProxmoxCliOperations}, for an agent that reaches its host over HTTPS
 * (the PVE API simulator in tests and the demo, or a PVE host without `pct` on the agent's
 * PATH). Each long operation is a PVE task the agent waits for.
 */
import type { BackupVolume, HostOperations } from './deploy.js';
import { PveApiClient, PveApiError, type PveApiClientOptions } from './pve-api-client.js';
import { errorKind } from './errors.js';
import { checkSnapshotName, checkStorageId, HostOperationError } from './proxmox-operations.js';

export interface ProxmoxApiOptions extends PveApiClientOptions {
  /** The Proxmox node the guests run on. */
  readonly node: string;
}

interface GuestStatus {
  readonly status?: string;
}

interface GuestInterface {
  readonly name?: string;
  readonly inet?: string;
}

export class ProxmoxApiOperations implements HostOperations {
  readonly client: PveApiClient;
  readonly node: string;
  constructor(options: ProxmoxApiOptions) {
    this.client = new PveApiClient(options);
    this.node = options.node;
  }

  #guest(vmId: number, rest = ''): string {
    return `/nodes/${encodeURIComponent(this.node)}/lxc/${vmId}${rest}`;
  }

  async #task(method: 'POST' | 'DELETE', path: string, params: Record<string, string | number | boolean> = {}): Promise<void> {
    try {
      await this.client.runTask(method, this.node, path, params);
    } catch (error) {
      // A host that does not answer is retried later (the job stays running); a refusal or a failed task is final.
      throw new HostOperationError(`${method} ${path} failed: ${(error as Error).message}`, { cause: error, kind: errorKind(error) === 'waiting' ? 'waiting' : 'generic' });
    }
  }

  async snapshot(vmId: number, name: string): Promise<void> {
    checkSnapshotName(name);
    return this.#task('POST', this.#guest(vmId, '/snapshot'), { snapname: name, description: 'felhom snapshot-before-deploy' });
  }

  async rollback(vmId: number, name: string): Promise<void> {
    checkSnapshotName(name);
    return this.#task('POST', this.#guest(vmId, `/snapshot/${name}/rollback`), { start: true });
  }

  async deleteSnapshot(vmId: number, name: string): Promise<void> {
    checkSnapshotName(name);
    return this.#task('DELETE', this.#guest(vmId, `/snapshot/${name}`));
  }

  /**
   * Running, and answering inside: the API has no `pct exec`, so the guest must report a
   * network interface with an address besides loopback (its init and network are up).
   */
  async healthCheck(vmId: number): Promise<{ healthy: boolean; detail: string }> {
    let status: GuestStatus;
    try {
      status = await this.client.get<GuestStatus>(this.#guest(vmId, '/status/current'));
    } catch (error) {
      return { healthy: false, detail: `no status: ${(error as Error).message}` };
    }
    if (status.status !== 'running') return { healthy: false, detail: `status: ${status.status ?? 'unknown'}` };
    let interfaces: GuestInterface[];
    try {
      interfaces = (await this.client.get<GuestInterface[] | null>(this.#guest(vmId, '/interfaces'))) ?? [];
    } catch (error) {
      return { healthy: false, detail: `running but does not answer: ${(error as Error).message}` };
    }
    const up = interfaces.filter((item) => item.name !== 'lo' && item.inet);
    if (up.length === 0) return { healthy: false, detail: 'running but reports no network address' };
    return { healthy: true, detail: `running and answering (${up.map((item) => `${item.name} ${item.inet}`).join(', ')})` };
  }

  async guestExists(vmId: number): Promise<boolean> {
    try {
      await this.client.get(this.#guest(vmId, '/status/current'));
      return true;
    } catch (error) {
      // PVE answers 500 "Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist".
      if (error instanceof PveApiError && error.status === 500 && /does not exist/.test(error.message)) return false;
      throw new HostOperationError(`status of guest ${vmId}: ${(error as Error).message}`, { cause: error, kind: errorKind(error) === 'waiting' ? 'waiting' : 'generic' });
    }
  }

  async restore(vmId: number, archive: string, options: { storage: string }): Promise<void> {
    checkStorageId(options.storage);
    return this.#task('POST', `/nodes/${encodeURIComponent(this.node)}/lxc`, { vmid: vmId, ostemplate: archive, restore: true, storage: options.storage, unique: true });
  }

  async start(vmId: number): Promise<void> {
    return this.#task('POST', this.#guest(vmId, '/status/start'));
  }

  async isAvailable(storage: string): Promise<boolean> {
    checkStorageId(storage);
    try {
      const status = await this.client.get<{ active?: number; enabled?: number }>(`/nodes/${encodeURIComponent(this.node)}/storage/${storage}/status`);
      return status.active === 1 && status.enabled !== 0;
    } catch (error) {
      // A storage the host does not define (PVE answers 500 "does not exist"): not a source now.
      if (error instanceof PveApiError && error.status !== 0 && error.status !== 401) return false;
      throw new HostOperationError(`storage status of ${storage}: ${(error as Error).message}`, { cause: error });
    }
  }

  async listBackups(storage: string): Promise<BackupVolume[]> {
    checkStorageId(storage);
    let listed: unknown;
    try {
      listed = await this.client.get(`/nodes/${encodeURIComponent(this.node)}/storage/${storage}/content`, { content: 'backup' });
    } catch (error) {
      throw new HostOperationError(`listing the backups on ${storage}: ${(error as Error).message}`, { cause: error });
    }
    if (!Array.isArray(listed)) throw new HostOperationError(`the content of ${storage} came back as ${typeof listed}, expected an array`);
    return listed.flatMap((item: { volid?: unknown; vmid?: unknown; ctime?: unknown }) => {
      const vmId = Number(item.vmid);
      const ctime = Number(item.ctime);
      if (typeof item.volid !== 'string' || !Number.isSafeInteger(vmId) || vmId < 100 || !Number.isFinite(ctime)) return [];
      return [{ volid: item.volid, vmId, ctime }];
    });
  }
}
