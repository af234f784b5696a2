/**
 * The host's hands inside a customer LXC, as root on the Proxmox host: Proxmox's own `pct`
 * (pct(1)). The agent uses it for what PVE's API does not offer or reserves to root@pam, which no
 * API token is: a bind mount of a host directory into the guest (the local-API socket's), files
 * pushed into the guest's file system, and commands run in the guest (docs/agent.md "Deploying
 * the controller"). Everything else the agent does to a guest goes through its scoped API token.
 *
 * `pct` is found at `$FELHOM_PCT`, else `/usr/sbin/pct`. A failed call is a
 * {@link GuestShellError} naming the subcommand, the guest and pct's own message; nothing it is
 * given as a file's content reaches an error (files are pushed from a path, never an argument).
 */
import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { FelhomError } from '../../lib/errors.js';

/** The default path of Proxmox's container tool. */
export const PCT_PATH = '/usr/sbin/pct';

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
  /** The guest's configuration as `pct config` prints it (`key: value` lines). */
  config(vmId: number): Promise<Record<string, string>>;
  /** Sets one configuration key (`pct set <vmid> --<key> <value>`), for example `mp7`. */
  set(vmId: number, key: string, value: string): Promise<void>;
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

/** {@link GuestShell} over Proxmox's `pct`. */
export class PctGuestShell implements GuestShell {
  readonly #pct: string;
  readonly #timeoutMs: number;

  constructor(options: { pct?: string; timeoutMs?: number } = {}) {
    this.#pct = options.pct ?? PCT_PATH;
    this.#timeoutMs = options.timeoutMs ?? 10 * 60_000;
  }

  async #checked(vmId: number, args: string[]): Promise<string> {
    const result = await run(this.#pct, args, this.#timeoutMs);
    if (result.code !== 0) throw new GuestShellError(`pct ${args[0]} ${vmId}: exit ${result.code}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    return result.stdout;
  }

  async config(vmId: number): Promise<Record<string, string>> {
    const out = await this.#checked(vmId, ['config', String(vmId)]);
    const config: Record<string, string> = {};
    for (const line of out.split('\n')) {
      // Snapshots' sections follow the current configuration; stop there.
      if (line.startsWith('[')) break;
      const match = /^([a-z][a-z0-9_-]*):\s?(.*)$/.exec(line);
      if (match) config[match[1]!] = match[2]!;
    }
    return config;
  }

  async set(vmId: number, key: string, value: string): Promise<void> {
    if (!/^[a-z][a-z0-9_-]*$/.test(key)) throw new GuestShellError(`pct set ${vmId}: ${JSON.stringify(key)} is not a configuration key`);
    await this.#checked(vmId, ['set', String(vmId), `--${key}`, value]);
  }

  async push(vmId: number, hostFile: string, guestPath: string, mode: number): Promise<void> {
    await this.#checked(vmId, ['push', String(vmId), hostFile, guestPath, '--perms', mode.toString(8).padStart(4, '0')]);
  }

  exec(vmId: number, argv: readonly string[]): Promise<ExecResult> {
    return run(this.#pct, ['exec', String(vmId), '--', ...argv], this.#timeoutMs);
  }
}
