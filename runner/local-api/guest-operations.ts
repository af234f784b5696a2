/**
 * What the local API does to a guest on the host (runner/local-api/server.ts), over the Proxmox
 * VE API with the agent's own token: the snapshot operations of {@link ProxmoxApiOperations}, and
 * the reads and resizes the host operations interface does not have.
 */
import { errorKind } from '../agent/errors.js';
import { ProxmoxApiOperations, type ProxmoxApiOptions } from '../agent/proxmox-api-operations.js';
import { checkStorageId, HostOperationError } from '../agent/proxmox-operations.js';

export interface GuestState {
  readonly status: string;
  readonly memoryMiB: number;
  /** The root filesystem's size. */
  readonly diskGiB: number;
}

export interface SnapshotInfo {
  readonly name: string;
  /** Epoch seconds, when Proxmox records it. */
  readonly snaptime?: number;
  readonly description?: string;
}

export interface GuestOperations {
  snapshot(vmId: number, name: string): Promise<void>;
  rollback(vmId: number, name: string): Promise<void>;
  deleteSnapshot(vmId: number, name: string): Promise<void>;
  listSnapshots(vmId: number): Promise<SnapshotInfo[]>;
  guestState(vmId: number): Promise<GuestState>;
  setMemory(vmId: number, memoryMiB: number): Promise<void>;
  /** Grows the root filesystem to `diskGiB` (Proxmox refuses to shrink). */
  growDisk(vmId: number, diskGiB: number): Promise<void>;
  /** A vzdump of the guest to `storage` now; resolves when the task ended. */
  backupNow(vmId: number, storage: string): Promise<void>;
}

export class PveGuestOperations implements GuestOperations {
  readonly #host: ProxmoxApiOperations;
  constructor(options: ProxmoxApiOptions) {
    this.#host = new ProxmoxApiOperations(options);
  }

  #path(vmId: number, rest = ''): string {
    return `/nodes/${encodeURIComponent(this.#host.node)}/lxc/${vmId}${rest}`;
  }

  async #call<T>(what: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof HostOperationError) throw error;
      throw new HostOperationError(`${what}: ${(error as Error).message}`, { cause: error, kind: errorKind(error) === 'waiting' ? 'waiting' : 'generic' });
    }
  }

  snapshot(vmId: number, name: string): Promise<void> {
    return this.#host.snapshot(vmId, name);
  }

  rollback(vmId: number, name: string): Promise<void> {
    return this.#host.rollback(vmId, name);
  }

  deleteSnapshot(vmId: number, name: string): Promise<void> {
    return this.#host.deleteSnapshot(vmId, name);
  }

  listSnapshots(vmId: number): Promise<SnapshotInfo[]> {
    return this.#call(`snapshots of guest ${vmId}`, async () => {
      const listed = await this.#host.client.get<{ name?: unknown; snaptime?: unknown; description?: unknown }[]>(this.#path(vmId, '/snapshot'));
      // PVE lists the live state as a pseudo-snapshot called `current`.
      return (listed ?? [])
        .filter((item) => typeof item.name === 'string' && item.name !== 'current')
        .map((item) => ({ name: item.name as string, ...(typeof item.snaptime === 'number' ? { snaptime: item.snaptime } : {}), ...(typeof item.description === 'string' ? { description: item.description } : {}) }));
    });
  }

  guestState(vmId: number): Promise<GuestState> {
    return this.#call(`state of guest ${vmId}`, async () => {
      const [status, config] = await Promise.all([
        this.#host.client.get<{ status?: string }>(this.#path(vmId, '/status/current')),
        this.#host.client.get<{ memory?: number | string; rootfs?: string }>(this.#path(vmId, '/config')),
      ]);
      const size = /(?:^|,)size=(\d+)G/.exec(config.rootfs ?? '')?.[1];
      return { status: status.status ?? 'unknown', memoryMiB: Number(config.memory ?? 512), diskGiB: size ? Number(size) : 0 };
    });
  }

  setMemory(vmId: number, memoryMiB: number): Promise<void> {
    return this.#call(`memory of guest ${vmId}`, async () => {
      await this.#host.client.put(this.#path(vmId, '/config'), { memory: memoryMiB });
    });
  }

  growDisk(vmId: number, diskGiB: number): Promise<void> {
    return this.#call(`disk of guest ${vmId}`, async () => {
      await this.#host.client.runTask('PUT', this.#host.node, this.#path(vmId, '/resize'), { disk: 'rootfs', size: `${diskGiB}G` });
    });
  }

  backupNow(vmId: number, storage: string): Promise<void> {
    checkStorageId(storage);
    return this.#call(`backup of guest ${vmId} to ${storage}`, async () => {
      await this.#host.client.runTask('POST', this.#host.node, `/nodes/${encodeURIComponent(this.#host.node)}/vzdump`, { vmid: vmId, storage, mode: 'snapshot' });
    });
  }
}
