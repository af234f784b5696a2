/**
 * The host's hands inside a customer LXC, as root on the Proxmox host: Proxmox's own `pct`
 * (pct(1)) and the container's configuration file. The agent uses them for what PVE's API does not
 * offer or reserves to root@pam, which no API token is (docs/agent.md "Deploying the controller"):
 *
 *   - a bind mount of a host directory (the guest's local-API socket directory), written as a raw
 *     `lxc.mount.entry` line into `/etc/pve/lxc/<vmid>.conf`. Not a PVE mount point (`mpN`): the
 *     proxmoxve provider reads every `mpN` back into the host tier's state and would replace the
 *     guest to remove it; it never reads the raw `lxc.*` lines. LXC mounts it at the next start;
 *   - files pushed into the guest's file system (`pct push`), commands run in it (`pct exec`), its
 *     status and a reboot (`pct status`, `pct reboot`).
 *
 * Everything else the agent does to a guest goes through its scoped API token. `pct` is found at
 * `$FELHOM_PCT`, else `/usr/sbin/pct`; the configuration directory is `$FELHOM_LXC_CONF_DIR`, else
 * `/etc/pve/lxc`. A failed call is a {@link GuestShellError} naming the call, the guest and pct's
 * own message; no file's content reaches an error (files are pushed from a path, never an argument).
 */
import { execFile } from 'node:child_process';
import { access, constants, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FelhomError } from '../../lib/errors.js';

/** The default path of Proxmox's container tool. */
export const PCT_PATH = '/usr/sbin/pct';
/** Where PVE keeps this node's container configurations (pmxcfs). */
export const LXC_CONF_DIR = '/etc/pve/lxc';
/** The raw LXC key of a bind mount in a container's configuration. */
export const MOUNT_ENTRY_KEY = 'lxc.mount.entry';

export class GuestShellError extends FelhomError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('EGUEST_SHELL', 'waiting', message, { ...options, fault: 'environment' });
  }
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface GuestShell {
  /** The `lxc.mount.entry` values of the guest's current configuration (not of its snapshots). */
  mountEntries(vmId: number): Promise<string[]>;
  /** Adds an `lxc.mount.entry` line to the guest's current configuration; LXC mounts it at the next start. */
  addMountEntry(vmId: number, entry: string): Promise<void>;
  /** `running`, `stopped`, ... as `pct status` says. */
  status(vmId: number): Promise<string>;
  reboot(vmId: number): Promise<void>;
  /** Copies a host file into the guest with its mode (`pct push`); the guest's directory must exist. */
  push(vmId: number, hostFile: string, guestPath: string, mode: number): Promise<void>;
  /** Runs a command in the guest (`pct exec <vmid> -- argv`); a non-zero exit is returned, not thrown. */
  exec(vmId: number, argv: readonly string[]): Promise<ExecResult>;
}

/** The `pct` this host has, or undefined (not a Proxmox host, or `$FELHOM_PCT` names nothing runnable). */
export async function findPct(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const path = env.FELHOM_PCT || PCT_PATH;
  try {
    await access(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

function run(file: string, args: readonly string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new GuestShellError(`${file} ${args[0] ?? ''}: ${error.killed ? `no answer in ${timeoutMs / 1000} s` : error.message}`, { cause: error }));
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}

/** The line index where the current configuration ends: its first snapshot or pending section. */
function mainSectionEnd(lines: readonly string[]): number {
  const index = lines.findIndex((line) => line.startsWith('['));
  return index < 0 ? lines.length : index;
}

/** {@link GuestShell} over Proxmox's `pct` and `/etc/pve/lxc`. */
export class PctGuestShell implements GuestShell {
  readonly #pct: string;
  readonly #confDir: string;
  readonly #timeoutMs: number;

  constructor(options: { pct?: string; confDir?: string; timeoutMs?: number } = {}) {
    this.#pct = options.pct ?? PCT_PATH;
    this.#confDir = options.confDir ?? LXC_CONF_DIR;
    this.#timeoutMs = options.timeoutMs ?? 10 * 60_000;
  }

  async #checked(vmId: number, args: string[]): Promise<string> {
    const result = await run(this.#pct, args, this.#timeoutMs);
    if (result.code !== 0) throw new GuestShellError(`pct ${args[0]} ${vmId}: exit ${result.code}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    return result.stdout;
  }

  #conf(vmId: number): string {
    return join(this.#confDir, `${vmId}.conf`);
  }

  async #lines(vmId: number): Promise<string[]> {
    try {
      return (await readFile(this.#conf(vmId), 'utf8')).split('\n');
    } catch (error) {
      throw new GuestShellError(`CT ${vmId}: cannot read its configuration ${this.#conf(vmId)}: ${(error as Error).message}`, { cause: error });
    }
  }

  async mountEntries(vmId: number): Promise<string[]> {
    const lines = await this.#lines(vmId);
    const prefix = `${MOUNT_ENTRY_KEY}:`;
    return lines.slice(0, mainSectionEnd(lines)).filter((line) => line.startsWith(prefix)).map((line) => line.slice(prefix.length).trim());
  }

  async addMountEntry(vmId: number, entry: string): Promise<void> {
    if (/[\n\r]/.test(entry)) throw new GuestShellError(`CT ${vmId}: a mount entry is one line`);
    const lines = await this.#lines(vmId);
    let end = mainSectionEnd(lines);
    // Before the blank line that separates the current configuration from a snapshot.
    while (end > 0 && lines[end - 1] === '') end -= 1;
    lines.splice(end, 0, `${MOUNT_ENTRY_KEY}: ${entry}`);
    // Written beside and renamed, as PVE's own tools write these files.
    const file = this.#conf(vmId);
    const temporary = `${file}.felhom.tmp`;
    try {
      await writeFile(temporary, lines.join('\n'), { mode: 0o640 });
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw new GuestShellError(`CT ${vmId}: cannot write its configuration ${file}: ${(error as Error).message}`, { cause: error });
    }
  }

  async status(vmId: number): Promise<string> {
    const out = await this.#checked(vmId, ['status', String(vmId)]);
    return /status:\s*(\S+)/.exec(out)?.[1] ?? 'unknown';
  }

  async reboot(vmId: number): Promise<void> {
    await this.#checked(vmId, ['reboot', String(vmId)]);
  }

  async push(vmId: number, hostFile: string, guestPath: string, mode: number): Promise<void> {
    await this.#checked(vmId, ['push', String(vmId), hostFile, guestPath, '--perms', mode.toString(8).padStart(4, '0')]);
  }

  exec(vmId: number, argv: readonly string[]): Promise<ExecResult> {
    return run(this.#pct, ['exec', String(vmId), '--', ...argv], this.#timeoutMs);
  }
}
