/**
 * {@link HostOperations} on a Proxmox host, through Proxmox's own `pct` CLI (run as root by the
 * agent's service). It works only on a Proxmox VE host; elsewhere every call fails with
 * {@link HostOperationError} naming the command.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { AgentError } from './errors.js';
import type { HostOperations } from './deploy.js';

const execFileAsync = promisify(execFile);

/** A Proxmox command failed: generic (the report names the command and its first error line). */
export class HostOperationError extends AgentError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EHOST_OPERATION', 'generic', message, options);
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

function checkSnapshotName(name: string): void {
  // pct's own rule (a config key): a letter first, then letters, digits, _ and -.
  if (!SNAPSHOT_NAME.test(name)) throw new HostOperationError(`snapshot name ${JSON.stringify(name)}: expected a letter then letters, digits, _ or - (2 to 40 characters)`);
}

export class ProxmoxCliOperations implements HostOperations {
  readonly #run: CommandRunner;
  constructor(run: CommandRunner = execRunner) {
    this.#run = run;
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

  async restore(vmId: number, archive: string, options: { storage: string }): Promise<void> {
    await this.#run('pct', ['restore', String(vmId), archive, '--storage', options.storage, '--unique', '1']);
  }

  async start(vmId: number): Promise<void> {
    await this.#run('pct', ['start', String(vmId)]);
  }
}
