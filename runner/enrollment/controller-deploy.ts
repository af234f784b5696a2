/**
 * The agent deploys the in-guest controller into a customer LXC (docs/agent.md "Deploying the
 * controller"; architecture.md#enrollment: the controller is the agent's product, never the reverse). As root on the
 * Proxmox host, through `pct` ({@link GuestShell}), in this order:
 *
 *   1. mount   the guest's local-API socket directory (`<sockets>/<guest>/`) is bind-mounted at
 *              `/var/lib/felhom/local-api` by an `lxc.mount.entry` line in the guest's configuration
 *              (PVE lets only root@pam make a bind mount, which no API token is; guest-shell.ts says
 *              why not as an `mpN`); every directory above it must be traversable by others, since
 *              LXC mounts it as the guest's unprivileged root;
 *   2. package the felhom-agent package the agent was given (`--controller-package`) is
 *              installed in the guest with apt, unless that version is there already;
 *   3. credentials the controller's own hub API key (registered at the hub by its hash, guest tier
 *              only) and a fresh local-API token for this guest (runner/local-api/controller-credentials.ts);
 *              any earlier ones stop working;
 *   4. files   `/var/lib/felhom-controller/keys/{hub-api-key,local-api-token}` (0600), the box's
 *              trust store as `/var/lib/felhom-controller/trust.json`, `/etc/felhom/controller.env`
 *              and the unit `templates/systemd/felhom-controller.service`;
 *   5. service `systemctl daemon-reload`, `enable` felhom-controller in the guest; then, if the
 *              guest runs, a reboot when it does not see its socket yet (LXC mounts it at start; the
 *              unit starts at that boot), else `systemctl restart`.
 *
 * The credentials travel only as files pushed from a private temporary directory that is removed
 * afterwards; the agent keeps neither (the hub and the token file keep their hashes). A failure
 * names the guest and the step, is audited, and leaves no record: the next attempt starts again
 * at step 1 (each step is idempotent; step 3 replaces what a failed attempt minted). A success is
 * recorded in `<state>/local-api/controllers.json` and audited as `controller.deploy`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { FelhomError } from '../../lib/errors.js';
import type { Logger } from '../agent/logger.js';
import { findProjectRoot } from '../engine/locate.js';
import type { HubClient } from '../hub/client.js';
import { mintControllerCredentials } from '../local-api/controller-credentials.js';
import type { LocalApiTokens } from '../local-api/tokens.js';
import type { AuditLog } from '../state/audit.js';
import { DurableStore } from '../state/store.js';
import type { GuestShell } from './guest-shell.js';

const execFileAsync = promisify(execFile);

/** The controller's state directory in the guest. */
export const GUEST_CONTROLLER_STATE = '/var/lib/felhom-controller';
/** Where the guest sees its local-API socket directory (the socket is `api.sock` in it). */
export const GUEST_LOCAL_API_DIR = '/var/lib/felhom/local-api';
export const CONTROLLER_UNIT = 'felhom-controller.service';
export const CONTROLLER_ENV_FILE = '/etc/felhom/controller.env';
/** The package that carries the `felhom` command, for host and guest alike. */
export const FELHOM_PACKAGE = 'felhom-agent';
/** The deployments record, in the agent's `<state>/local-api/`. */
export const DEPLOYMENTS_FILE = 'controllers.json';

export type DeployStep = 'mount' | 'package' | 'credentials' | 'files' | 'service';

export class ControllerDeployError extends FelhomError {
  readonly guest: string;
  readonly step: DeployStep;
  constructor(guest: string, step: DeployStep, message: string, options: { cause?: unknown } = {}) {
    super('ECONTROLLER_DEPLOY', 'waiting', `controller of guest ${guest}: ${step}: ${message}`, { ...options, fault: 'environment' });
    this.guest = guest;
    this.step = step;
  }
}

export interface DeployedController {
  readonly vmId: number;
  readonly deployedAt: string;
  readonly packageVersion: string;
  /** The `lxc.mount.entry` that bind-mounts the socket directory. */
  readonly mountEntry: string;
}

interface DeploymentsData {
  version: 1;
  guests: Record<string, DeployedController>;
}

/** What the agent has deployed, per guest (`<state>/local-api/controllers.json`). */
export class ControllerDeployments {
  readonly #store: DurableStore<DeploymentsData>;
  private constructor(store: DurableStore<DeploymentsData>) {
    this.#store = store;
  }

  static async open(dir: string): Promise<ControllerDeployments> {
    const store = await DurableStore.open<DeploymentsData>(join(dir, DEPLOYMENTS_FILE), () => ({ version: 1, guests: {} }), (data) =>
      data.version !== 1 || data.guests === null || typeof data.guests !== 'object' ? 'not a version 1 controller deployments file' : undefined,
    );
    return new ControllerDeployments(store);
  }

  get(guest: string): DeployedController | undefined {
    return Object.hasOwn(this.#store.data.guests, guest) ? this.#store.data.guests[guest] : undefined;
  }

  async record(guest: string, deployed: DeployedController): Promise<void> {
    await this.#store.update((data) => {
      data.guests[guest] = deployed;
    });
  }
}

/** The package file's name and version (`dpkg-deb -f`); a file that is not a felhom-agent package is refused. */
export async function packageVersion(file: string): Promise<string> {
  let out: string;
  try {
    out = (await execFileAsync('dpkg-deb', ['-f', file, 'Package', 'Version'], { encoding: 'utf8' })).stdout;
  } catch (error) {
    throw new FelhomError('ECONTROLLER_PACKAGE', 'stalled', `controller package ${file}: not a Debian package dpkg-deb can read (${(error as { stderr?: string }).stderr?.trim() || (error as Error).message})`, { cause: error, fault: 'input' });
  }
  const fields = Object.fromEntries(out.split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]));
  if (fields.Package !== FELHOM_PACKAGE || !fields.Version) throw new FelhomError('ECONTROLLER_PACKAGE', 'stalled', `controller package ${file}: expected the ${FELHOM_PACKAGE} package, got ${JSON.stringify(fields.Package ?? null)}`, { fault: 'input' });
  return fields.Version;
}

/** The guest's environment file for the unit. */
export function controllerEnv(options: { hubUrl: string; box: string; guest: string }): string {
  for (const [name, value] of Object.entries(options)) if (/[\s"'\\$`]/.test(value)) throw new FelhomError('ECONTROLLER_DEPLOY', 'usage', `${name}: ${JSON.stringify(value)} cannot be written to ${CONTROLLER_ENV_FILE}`, { fault: 'input' });
  return `# Written by the host's Felhom agent when it deployed this controller.\nFELHOM_HUB_URL=${options.hubUrl}\nFELHOM_BOX=${options.box}\nFELHOM_GUEST=${options.guest}\n`;
}

export interface DeployControllerOptions {
  readonly box: string;
  readonly hubUrl: string;
  readonly guest: { readonly name: string; readonly vmId: number };
  /** The agent's own hub client (the box's credential registers the controller's). */
  readonly hub: HubClient;
  readonly tokens: LocalApiTokens;
  readonly deployments: ControllerDeployments;
  readonly shell: GuestShell;
  /** The host directory of this guest's socket (`<state>/local-api/sockets/<guest>`). */
  readonly socketDir: string;
  /** The box's trust store, which the controller verifies guest specs against. */
  readonly trustPath: string;
  /** The felhom-agent .deb to install in the guest. */
  readonly packageFile: string;
  readonly audit?: AuditLog;
  readonly log?: Logger;
  readonly clock?: () => Date;
}

/** The `lxc.mount.entry` value that bind-mounts `source` at the guest's local-API directory (fstab form; the target relative to the guest's root). */
export function socketMountEntry(source: string): string {
  if (/\s/.test(source)) throw new ControllerDeployError('-', 'mount', `the socket directory ${JSON.stringify(source)} has white space, which an lxc.mount.entry cannot carry`);
  return `${source} ${GUEST_LOCAL_API_DIR.slice(1)} none bind,create=dir 0 0`;
}

/** The first directory from `/` down to `dir` that others cannot traverse, with its mode; undefined when all can be. */
export async function untraversable(dir: string): Promise<{ dir: string; mode: number } | undefined> {
  const parts = dir.split('/').filter(Boolean);
  for (let depth = 0; depth <= parts.length; depth += 1) {
    const path = `/${parts.slice(0, depth).join('/')}`;
    const mode = (await stat(path)).mode & 0o7777;
    if ((mode & 0o001) === 0) return { dir: path, mode };
  }
  return undefined;
}

/** Deploys (or redeploys) the controller of one guest; see the module comment for the steps. */
export async function deployController(o: DeployControllerOptions): Promise<DeployedController> {
  const { name, vmId } = o.guest;
  const fail = (step: DeployStep) => (error: unknown): never => {
    if (error instanceof ControllerDeployError) throw error;
    throw new ControllerDeployError(name, step, (error as Error).message, { cause: error });
  };
  const inGuest = async (step: DeployStep, argv: string[]) => {
    const result = await o.shell.exec(vmId, argv).catch(fail(step));
    if (result.code !== 0) throw new ControllerDeployError(name, step, `${argv.join(' ')}: exit ${result.code}: ${(result.stderr || result.stdout).trim().split('\n').slice(-3).join(' / ')}`);
    return result.stdout;
  };
  const audited = async (outcome: 'succeeded' | 'failed', reason?: { code: string; message: string }) =>
    o.audit?.append({ actor: 'agent', action: 'controller.deploy', box: o.box, tier: 'host', envelopeDigest: null, outcome, ...(reason ? { reason } : {}), vmIds: [vmId] });

  try {
    const version = await packageVersion(o.packageFile);

    // 1. The socket directory, bind-mounted.
    const blocked = await untraversable(o.socketDir).catch(fail('mount'));
    if (blocked) {
      throw new ControllerDeployError(name, 'mount', `${blocked.dir} (mode ${blocked.mode.toString(8).padStart(4, '0')}) is not traversable by others, and the guest's root must reach ${o.socketDir}: serve the sockets from a directory it may traverse (agent run --local-api-sockets, as the packaged unit does with /var/lib/felhom-local-api)`);
    }
    const mountEntry = socketMountEntry(o.socketDir);
    const mounted = (await o.shell.mountEntries(vmId).catch(fail('mount'))).includes(mountEntry);
    if (!mounted) {
      await o.shell.addMountEntry(vmId, mountEntry).catch(fail('mount'));
      o.log?.info('controller: local-API socket mount added (at the next start of the guest)', { guest: name, vmId });
    }

    // 2. The package, at the agent's version.
    const installed = await o.shell.exec(vmId, ['dpkg-query', '-W', '-f=${Version}', FELHOM_PACKAGE]).catch(fail('package'));
    const incoming = `${GUEST_CONTROLLER_STATE}/incoming`;
    if (installed.code !== 0 || installed.stdout.trim() !== version) {
      await inGuest('package', ['mkdir', '-p', '-m', '0700', incoming]);
      const guestDeb = `${incoming}/${FELHOM_PACKAGE}_${version}.deb`;
      await o.shell.push(vmId, o.packageFile, guestDeb, 0o600).catch(fail('package'));
      await inGuest('package', ['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '--no-install-recommends', guestDeb]);
      await inGuest('package', ['rm', '-f', guestDeb]);
      o.log?.info('controller: package installed', { guest: name, vmId, version });
    }

    // 3 and 4. Fresh credentials, straight into the guest's files.
    const staging = await mkdtemp(join(tmpdir(), 'felhom-controller-'));
    try {
      const credentials = await mintControllerCredentials({ hub: o.hub, box: o.box, guest: name, tokens: o.tokens }).catch(fail('credentials'));
      const files: [string, string, number][] = [
        [`${GUEST_CONTROLLER_STATE}/keys/hub-api-key`, `${credentials.hubApiKey}\n`, 0o600],
        [`${GUEST_CONTROLLER_STATE}/keys/local-api-token`, `${credentials.localApiToken}\n`, 0o600],
        [`${GUEST_CONTROLLER_STATE}/trust.json`, await readFile(o.trustPath, 'utf8').catch(fail('files')), 0o644],
        [CONTROLLER_ENV_FILE, controllerEnv({ hubUrl: o.hubUrl, box: o.box, guest: name }), 0o644],
        [`/etc/systemd/system/${CONTROLLER_UNIT}`, await readFile(join(findProjectRoot(), 'templates', 'systemd', CONTROLLER_UNIT), 'utf8').catch(fail('files')), 0o644],
      ];
      await inGuest('files', ['mkdir', '-p', '-m', '0700', GUEST_CONTROLLER_STATE, `${GUEST_CONTROLLER_STATE}/keys`]);
      await inGuest('files', ['mkdir', '-p', '/etc/felhom', '/etc/systemd/system']);
      for (const [index, [guestPath, text, mode]] of files.entries()) {
        const local = join(staging, String(index));
        await writeFile(local, text, { mode: 0o600 });
        await o.shell.push(vmId, local, guestPath, mode).catch(fail('files'));
      }
    } finally {
      await rm(staging, { recursive: true, force: true });
    }

    // 5. The service.
    await inGuest('service', ['systemctl', 'daemon-reload']);
    await inGuest('service', ['systemctl', 'enable', CONTROLLER_UNIT]);
    // LXC mounts the socket directory at start: a guest that does not see its socket yet (the mount
    // was just added, or by an attempt that failed before this step) is rebooted, and the enabled
    // unit starts at that boot; otherwise the controller is restarted on its new credentials.
    const running = (await o.shell.status(vmId).catch(fail('service'))) === 'running';
    if (running) {
      const socketSeen = (await o.shell.exec(vmId, ['test', '-S', `${GUEST_LOCAL_API_DIR}/api.sock`]).catch(fail('service'))).code === 0;
      if (socketSeen) await inGuest('service', ['systemctl', 'restart', CONTROLLER_UNIT]);
      else await o.shell.reboot(vmId).catch(fail('service'));
    }

    const deployed: DeployedController = { vmId, deployedAt: (o.clock ?? (() => new Date()))().toISOString(), packageVersion: version, mountEntry };
    await o.deployments.record(name, deployed);
    await audited('succeeded');
    o.log?.info('controller deployed', { guest: name, vmId, version });
    return deployed;
  } catch (error) {
    const reason = { code: (error as FelhomError).code ?? 'ECONTROLLER_DEPLOY', message: (error as Error).message };
    await audited('failed', reason).catch(() => undefined);
    throw error;
  }
}

/**
 * Deploys the controller into every guest of the applied spec that has none from this agent (or
 * whose CT id changed); one guest's failure is logged and returned, the others go on. The next
 * call tries the failed ones again.
 */
export async function deployMissingControllers(
  guests: readonly { readonly name: string; readonly vmId: number }[],
  options: Omit<DeployControllerOptions, 'guest' | 'socketDir'> & { readonly socketDirOf: (guest: string) => string },
): Promise<{ deployed: string[]; failed: { guest: string; error: Error }[] }> {
  const deployed: string[] = [];
  const failed: { guest: string; error: Error }[] = [];
  for (const guest of guests) {
    if (options.deployments.get(guest.name)?.vmId === guest.vmId) continue;
    try {
      await deployController({ ...options, guest, socketDir: options.socketDirOf(guest.name) });
      deployed.push(guest.name);
    } catch (error) {
      options.log?.warn('controller deploy failed; retried after the next cycle', { guest: guest.name, code: (error as FelhomError).code, message: (error as Error).message });
      failed.push({ guest: guest.name, error: error as Error });
    }
  }
  return { deployed, failed };
}

/** The controller package the agent installs into its guests unless told otherwise: `<state>/controller.deb`. */
export const CONTROLLER_PACKAGE_FILE = 'controller.deb';

/**
 * What `felhom agent run` calls after each host cycle (after the local API serves the applied
 * spec's guests): deploys the controller into each guest without one. Undefined, with the reason,
 * where it cannot: not the host tier, no local API, no `pct` (not a Proxmox host), or no package.
 */
export async function agentControllerRollout(options: {
  readonly agent: { readonly box: string; readonly tier: string; readonly audit: AuditLog; appliedSpec(): Promise<{ spec: { guests: readonly { name: string; vmId: number }[] } } | undefined> };
  readonly localApi: { readonly tokens: LocalApiTokens; readonly server: { socketPath(guest: string): string } } | undefined;
  /** `<state>/local-api`, where the deployments record is kept. */
  readonly localApiDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly hubUrl: string;
  readonly hubApiKey: () => Promise<string>;
  readonly trustPath: string;
  readonly packageFile: string;
  readonly log?: Logger;
}): Promise<{ run: () => Promise<void> } | { off: string }> {
  if (options.agent.tier !== 'host') return { off: 'not the host tier' };
  if (!options.localApi) return { off: 'no local API (FELHOM_PROXMOX_API is not set)' };
  const { findPct, PctGuestShell } = await import('./guest-shell.js');
  const pct = await findPct(options.env);
  if (!pct) return { off: `no pct at ${options.env.FELHOM_PCT || '/usr/sbin/pct'} (not a Proxmox host)` };
  const { access } = await import('node:fs/promises');
  if (!(await access(options.packageFile).then(() => true, () => false))) return { off: `no controller package at ${options.packageFile}` };
  const { HubClient } = await import('../hub/client.js');
  const deployments = await ControllerDeployments.open(options.localApiDir);
  const localApi = options.localApi;
  const shell = new PctGuestShell({ pct, ...(options.env.FELHOM_LXC_CONF_DIR ? { confDir: options.env.FELHOM_LXC_CONF_DIR } : {}) });
  return {
    run: async () => {
      const spec = await options.agent.appliedSpec();
      if (!spec) return;
      await deployMissingControllers(spec.spec.guests, {
        box: options.agent.box,
        hubUrl: options.hubUrl,
        hub: new HubClient({ url: options.hubUrl, token: await options.hubApiKey() }),
        tokens: localApi.tokens,
        deployments,
        shell,
        trustPath: options.trustPath,
        packageFile: options.packageFile,
        audit: options.agent.audit,
        ...(options.log ? { log: options.log } : {}),
        socketDirOf: (guest) => dirname(localApi.server.socketPath(guest)),
      });
    },
  };
}
