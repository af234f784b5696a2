/**
 * The box's one command at set-up (docs/operator-guide.md §2; architecture.md#enrollment: the
 * agent enrolls first, then mints its own scoped Proxmox token, then the customer LXC and its
 * controller follow from the host tier): on the Proxmox host, as root, after the package is
 * installed, in this order:
 *
 *   1. enroll             redeem the one-time code (runner/enrollment/box.ts; resumes on what an
 *                         earlier run wrote);
 *   2. proxmox-token      mint the agent's scoped API token (runner/enrollment/proxmox-token.ts)
 *                         with a root credential: a file the operator gives, or, by default, a
 *                         token of root@pam made with `pveum` for this step alone and removed
 *                         after it, whatever happened;
 *   3. controller-package the felhom-agent package the agent installs into each guest with its
 *                         controller, checked and copied to `<state>/controller.deb`;
 *   4. settings           `/etc/felhom/agent.env`: the hub, the box, the host tier (other lines kept);
 *   5. start              `systemctl enable --now felhom-agent.service`: its first host cycle
 *                         creates the customer LXC, and after it the agent deploys the controller.
 *
 * Each step is idempotent, so a run after a failure goes through the steps done before and on
 * from the one that failed; the failure is the step's own error (its code and reason) and the
 * progress lines say which step it was. No secret reaches a progress line or the result.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, copyFile, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FelhomError } from '../../lib/errors.js';
import { enrollBox, type EnrollBoxResult } from './box.js';
import { CONTROLLER_PACKAGE_FILE, packageVersion } from './controller-deploy.js';
import { mintProxmoxToken, type MintResult } from './proxmox-token.js';

const execFileAsync = promisify(execFile);

export const HOST_SETUP_STEPS = ['enroll', 'proxmox-token', 'controller-package', 'settings', 'start'] as const;
export type HostSetupStep = (typeof HOST_SETUP_STEPS)[number];
export const AGENT_UNIT = 'felhom-agent.service';

/** A set-up step failed for a reason of its own (the others keep their errors' codes). */
export class HostSetupError extends FelhomError {
  readonly step: HostSetupStep;
  constructor(step: HostSetupStep, message: string, options: { cause?: unknown; usage?: boolean } = {}) {
    super('EHOST_SETUP', options.usage ? 'usage' : 'stalled', `${step}: ${message}`, { cause: options.cause, fault: options.usage ? 'input' : 'environment' });
    this.step = step;
  }
}

export interface HostSetupOptions {
  readonly hubUrl: string;
  readonly code: string;
  readonly stateDir: string;
  readonly trustRoot?: string;
  readonly proxmox: {
    readonly endpoint: string;
    readonly ca?: string;
    readonly insecure?: boolean;
    /** root@pam's token, given; otherwise one is made with `pveum` for the step and removed after it. */
    readonly rootToken?: string;
    /** @default /usr/sbin/pveum */
    readonly pveum?: string;
  };
  /** The felhom-agent .deb for the guests. @default - none: the agent deploys no controller until `<state>/controller.deb` exists */
  readonly controllerPackage?: string;
  /** @default /etc/felhom/agent.env */
  readonly envFile: string;
  /** `systemctl` to start the agent with, or false to leave it. @default /usr/bin/systemctl */
  readonly systemctl?: string | false;
  readonly onStep?: (line: string) => void;
}

export interface HostSetupResult {
  readonly enrollment: EnrollBoxResult;
  readonly proxmoxToken: Pick<MintResult, 'tokenId' | 'tokenFile' | 'token' | 'changes'>;
  readonly controllerPackage: { readonly file: string; readonly version: string } | null;
  readonly envFile: string;
  readonly started: boolean;
}

/** The settings file with the three keys set and every other line kept. */
export function agentSettings(existing: string, values: { hubUrl: string; box: string }): string {
  const wanted: Record<string, string> = { FELHOM_HUB_URL: values.hubUrl, FELHOM_BOX: values.box, FELHOM_TIER: 'host' };
  for (const [key, value] of Object.entries(wanted)) if (/[\s"'\\$`]/.test(value)) throw new HostSetupError('settings', `${key}: ${JSON.stringify(value)} cannot be written to an environment file`, { usage: true });
  const lines = existing.split('\n').filter((line, index, all) => !(index === all.length - 1 && line === ''));
  const seen = new Set<string>();
  const out = lines.map((line) => {
    const key = /^([A-Z_][A-Z0-9_]*)=/.exec(line)?.[1];
    if (!key || !(key in wanted)) return line;
    seen.add(key);
    return `${key}=${wanted[key]}`;
  });
  for (const [key, value] of Object.entries(wanted)) if (!seen.has(key)) out.push(`${key}=${value}`);
  return `${out.join('\n')}\n`;
}

async function replaceFile(file: string, text: string | { copyOf: string }, mode: number): Promise<void> {
  const temporary = `${file}.felhom-${randomBytes(4).toString('hex')}.tmp`;
  try {
    if (typeof text === 'string') await writeFile(temporary, text, { mode });
    else {
      await copyFile(text.copyOf, temporary);
      await chmod(temporary, mode);
    }
    await rename(temporary, file);
  } finally {
    await rm(temporary, { force: true });
  }
}

/** root@pam's token for the minting step, made with pveum, and how to remove it. */
async function temporaryRootToken(pveum: string): Promise<{ token: string; remove: () => Promise<void> }> {
  const id = `felhom-setup-${randomBytes(3).toString('hex')}`;
  let out: string;
  try {
    out = (await execFileAsync(pveum, ['user', 'token', 'add', 'root@pam', id, '--privsep', '0', '--output-format', 'json'], { encoding: 'utf8' })).stdout;
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? `${pveum} is missing (not a Proxmox host?)` : ((error as { stderr?: string }).stderr?.trim() || (error as Error).message);
    throw new HostSetupError('proxmox-token', `a temporary root@pam token could not be made with pveum: ${reason}; or give one with --root-token-file`, { cause: error });
  }
  let made: { 'full-tokenid'?: unknown; value?: unknown };
  try {
    made = JSON.parse(out) as typeof made;
  } catch (error) {
    throw new HostSetupError('proxmox-token', 'pveum answered something other than JSON for the temporary root@pam token', { cause: error });
  }
  if (typeof made['full-tokenid'] !== 'string' || typeof made.value !== 'string') throw new HostSetupError('proxmox-token', 'pveum did not return the temporary token (full-tokenid, value)');
  return {
    token: `${made['full-tokenid']}=${made.value}`,
    remove: async () => {
      await execFileAsync(pveum, ['user', 'token', 'remove', 'root@pam', id], { encoding: 'utf8' });
    },
  };
}

export async function setUpHost(o: HostSetupOptions): Promise<HostSetupResult> {
  const say = (line: string) => o.onStep?.(line);

  say('enroll: redeeming the one-time code');
  const enrollment = await enrollBox({ hubUrl: o.hubUrl, code: o.code, stateDir: o.stateDir, ...(o.trustRoot ? { trustRoot: o.trustRoot } : {}), onStage: (stage) => say(`enroll: ${stage}`) });

  say(`proxmox-token: minting the agent's own token at ${o.proxmox.endpoint}`);
  const root = o.proxmox.rootToken ? { token: o.proxmox.rootToken, remove: async () => {} } : await temporaryRootToken(o.proxmox.pveum ?? '/usr/sbin/pveum');
  if (!o.proxmox.rootToken) say('proxmox-token: made a temporary root@pam token for this step');
  let minted: MintResult;
  try {
    minted = await mintProxmoxToken({
      endpoint: o.proxmox.endpoint,
      rootToken: root.token,
      stateDir: o.stateDir,
      ...(o.proxmox.ca ? { ca: o.proxmox.ca } : {}),
      ...(o.proxmox.insecure ? { insecure: true } : {}),
      onStep: (line) => say(`proxmox-token: ${line}`),
    });
  } finally {
    if (!o.proxmox.rootToken) {
      await root.remove().then(
        () => say('proxmox-token: removed the temporary root@pam token'),
        (error: unknown) => say(`proxmox-token: the temporary root@pam token could not be removed (${(error as Error).message.split('\n')[0]}): remove it with pveum user token remove root@pam <id>`),
      );
    }
  }

  let controllerPackage: HostSetupResult['controllerPackage'] = null;
  if (o.controllerPackage) {
    say(`controller-package: ${o.controllerPackage}`);
    const version = await packageVersion(o.controllerPackage);
    const file = join(o.stateDir, CONTROLLER_PACKAGE_FILE);
    await replaceFile(file, { copyOf: o.controllerPackage }, 0o600).catch((error: unknown) => {
      throw new HostSetupError('controller-package', `cannot copy it to ${file}: ${(error as Error).message}`, { cause: error });
    });
    controllerPackage = { file, version };
  } else say('controller-package: none given; the agent deploys no controller until <state>/controller.deb exists');

  say(`settings: ${o.envFile}`);
  let existing = '';
  try {
    existing = await readFile(o.envFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new HostSetupError('settings', `cannot read ${o.envFile}: ${(error as Error).message}`, { cause: error });
  }
  await replaceFile(o.envFile, agentSettings(existing, { hubUrl: enrollment.hub, box: enrollment.box }), 0o640).catch((error: unknown) => {
    if (error instanceof HostSetupError) throw error;
    throw new HostSetupError('settings', `cannot write ${o.envFile}: ${(error as Error).message}`, { cause: error });
  });

  let started = false;
  if (o.systemctl !== false) {
    const systemctl = o.systemctl ?? '/usr/bin/systemctl';
    say(`start: systemctl enable --now ${AGENT_UNIT}`);
    try {
      await execFileAsync(systemctl, ['enable', '--now', AGENT_UNIT], { encoding: 'utf8' });
    } catch (error) {
      throw new HostSetupError('start', `systemctl enable --now ${AGENT_UNIT} failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`, { cause: error });
    }
    started = true;
  } else say(`start: left to you: systemctl enable --now ${AGENT_UNIT}`);

  return {
    enrollment,
    proxmoxToken: { tokenId: minted.tokenId, tokenFile: minted.tokenFile, token: minted.token, changes: minted.changes },
    controllerPackage,
    envFile: o.envFile,
    started,
  };
}
