/**
 * {@link HostOperations} on a Proxmox host, through Proxmox's own `pct`, `pvesm` and `pvesh` CLIs
 * (run as root by the agent's service). It works only on a Proxmox VE host; elsewhere every call fails with
 * {@link HostOperationError} naming the command.
 */
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { AgentError, type ErrorKind } from './errors.js';
import type { BackupVolume, HostOperations } from './deploy.js';

const execFileAsync = promisify(execFile);

/** A Proxmox command failed: generic (the report names the command and its first error line). */
export class HostOperationError extends AgentError {
  /** `kind: 'waiting'` when the host did not answer (retry later); generic otherwise. */
  constructor(message: string, options: { cause?: unknown; kind?: ErrorKind } = {}) {
    super('EHOST_OPERATION', options.kind ?? 'generic', message, options);
  }
}

/** Runs a command and returns its stdout; injectable so the argument lists can be checked. */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<string>;

export const execRunner: CommandRunner = async (command, args) => {
  try {
    const { stdout } = await execFileAsync(command, [...args], { timeout: 30 * 60 * 1000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.split('\n').find((line) => line.trim()) ?? (error as Error).message;
    throw new HostOperationError(`${command} ${args.join(' ')} failed: ${detail.trim()}`, { cause: error });
  }
};

const SNAPSHOT_NAME = /^[A-Za-z][A-Za-z0-9_-]{1,39}$/;

export function checkSnapshotName(name: string): void {
  // pct's own rule (a config key): a letter first, then letters, digits, _ and -.
  if (!SNAPSHOT_NAME.test(name)) throw new HostOperationError(`snapshot name ${JSON.stringify(name)}: expected a letter then letters, digits, _ or - (2 to 40 characters)`);
}

// Proxmox's storage id rule (PVE::JSONSchema pve-storage-id); checked so no argument reaches a CLI as an option.
const STORAGE_ID = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;

export function checkStorageId(storage: string): void {
  if (!STORAGE_ID.test(storage)) throw new HostOperationError(`storage ${JSON.stringify(storage)}: expected a Proxmox storage id (a letter, then letters, digits, -, _ or .)`);
}

export interface ProxmoxCliOptions {
  /** The Proxmox node the agent runs on, for `pvesh` paths. @default - the short host name (Proxmox names nodes so) */
  readonly node?: string;
}

export class ProxmoxCliOperations implements HostOperations {
  readonly #run: CommandRunner;
  readonly #node: string;
  constructor(run: CommandRunner = execRunner, options: ProxmoxCliOptions = {}) {
    this.#run = run;
    this.#node = options.node ?? hostname().split('.')[0]!;
  }

  async snapshot(vmId: number, name: string): Promise<void> {
    checkSnapshotName(name);
    await this.#run('pct', ['snapshot', String(vmId), name, '--description', 'felhom snapshot-before-deploy']);
  }

  async rollback(vmId: number, name: string): Promise<void> {
    checkSnapshotName(name);
    await this.#run('pct', ['rollback', String(vmId), name, '--start', '1']);
  }

  async deleteSnapshot(vmId: number, name: string): Promise<void> {
    checkSnapshotName(name);
    await this.#run('pct', ['delsnapshot', String(vmId), name]);
  }

  async healthCheck(vmId: number): Promise<{ healthy: boolean; detail: string }> {
    const status = (await this.#run('pct', ['status', String(vmId)])).trim();
    if (status !== 'status: running') return { healthy: false, detail: status || 'no status' };
    try {
      await this.#run('pct', ['exec', String(vmId), '--', 'true']);
    } catch (error) {
      return { healthy: false, detail: `running but does not answer: ${(error as Error).message}` };
    }
    return { healthy: true, detail: 'running and answering' };
  }

  async guestExists(vmId: number): Promise<boolean> {
    try {
      await this.#run('pct', ['config', String(vmId)]);
      return true;
    } catch (error) {
      // pct exits non-zero with "Configuration file 'nodes/<node>/lxc/<vmid>.conf' does not exist".
      if (/does not exist/.test((error as Error).message)) return false;
      throw error;
    }
  }

  async restore(vmId: number, archive: string, options: { storage: string }): Promise<void> {
    await this.#run('pct', ['restore', String(vmId), archive, '--storage', options.storage, '--unique', '1']);
  }

  async start(vmId: number): Promise<void> {
    await this.#run('pct', ['start', String(vmId)]);
  }

  async isAvailable(storage: string): Promise<boolean> {
    checkStorageId(storage);
    let table: string;
    try {
      table = await this.#run('pvesm', ['status', '--storage', storage]);
    } catch {
      // pvesm exits non-zero for a storage the host does not define or cannot reach: not a source now.
      return false;
    }
    // Name Type Status Total Used Available %: the storage's row must say `active`.
    return table.split('\n').some((line) => {
      const [name, , status] = line.trim().split(/\s+/);
      return name === storage && status === 'active';
    });
  }

  async listBackups(storage: string): Promise<BackupVolume[]> {
    checkStorageId(storage);
    const output = await this.#run('pvesh', ['get', `/nodes/${this.#node}/storage/${storage}/content`, '--content', 'backup', '--output-format', 'json']);
    let listed: unknown;
    try {
      listed = JSON.parse(output);
    } catch (error) {
      throw new HostOperationError(`pvesh listed the content of ${storage} as something other than JSON`, { cause: error });
    }
    if (!Array.isArray(listed)) throw new HostOperationError(`pvesh listed the content of ${storage} as ${typeof listed}, expected an array`);
    return listed.flatMap((item: { volid?: unknown; vmid?: unknown; ctime?: unknown }) => {
      const vmId = Number(item.vmid);
      const ctime = Number(item.ctime);
      // Host configuration backups and foreign files carry no guest id: not restorable guests.
      if (typeof item.volid !== 'string' || !Number.isSafeInteger(vmId) || vmId < 100 || !Number.isFinite(ctime)) return [];
      return [{ volid: item.volid, vmId, ctime }];
    });
  }
}
