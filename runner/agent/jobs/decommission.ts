/**
 * The signed `decommission` job (docs/architecture.md#offboarding, docs/key-custody.md "Decommission"): the
 * box leaves Felhom without its data held hostage. In order, each step an audit entry:
 *
 *   1. final-backup   a last vzdump of every guest to the offsite (or named) storage
 *   2. hand-off       the bundle for the customer, on their box: the PBS keyfile (passphrase: the
 *                     recovery code), recovery instructions for the stock Proxmox tools, the PBS
 *                     namespace's access, the box spec and the catalog manifests of their apps
 *   3. audit-upload   the audit log so far to the hub (its last chance)
 *   4. escrow         the hub's escrow deleted: the customer holds the key now
 *   5. tunnel         the tunnel stopped and its credentials removed
 *   6. proxmox-token  the agent's Proxmox API token revoked
 *   7. operator-keys  the trust store removed: no operator key is trusted on the box any more
 *   8. hub-credential the box's hub API key revoked at the hub and deleted on the box
 *
 * A standalone module taking an explicit context (the agent's job registry wires it); it
 * returns what it did. A failed step stops the job before any later step: a final backup that
 * failed must not be followed by revoking the credentials a retry needs. Finished steps are kept
 * in `<state>/decommission.json`, so the job signed again (or resumed after a crash) goes on
 * where it stopped instead of repeating a final backup with a token already revoked.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { BoxSpec, PbsStorageSpec } from '../../../stacks/spec/types.js';
import { readBoxKeyfile, readCustodyState, readOptional } from '../../custody/custody.js';
import { keyfileInfo } from '../../custody/pbs-keyfile.js';
import type { HubClient } from '../../hub/client.js';
import type { AuditLog, AuditEntry } from '../../state/audit.js';
import { writeFileDurably } from '../../state/store.js';
import type { BackupVolume } from '../deploy.js';
import type { Logger } from '../logger.js';
import { FelhomError } from '../../../lib/errors.js';

export const DECOMMISSION_STEPS = ['final-backup', 'hand-off', 'audit-upload', 'escrow', 'tunnel', 'proxmox-token', 'operator-keys', 'hub-credential'] as const;
export type DecommissionStep = (typeof DECOMMISSION_STEPS)[number];

/** The host operations a decommission needs beyond the deploy's (runner/agent/deploy.ts HostOperations). */
export interface DecommissionOperations {
  /** A backup of these guests to `storage` now (vzdump, snapshot mode); the archives it made. */
  backupNow(vmIds: readonly number[], storage: string): Promise<BackupVolume[]>;
  /** Revokes the Proxmox API token the agent uses: afterwards it opens nothing. */
  revokeApiToken(): Promise<void>;
  /** Stops the tunnel and deletes its credentials. @default - the box has no tunnel to remove */
  removeTunnel?(): Promise<void>;
}

export interface DecommissionContext {
  readonly box: string;
  readonly stateDir: string;
  readonly audit: AuditLog;
  /** The box's own hub client. */
  readonly hub: HubClient;
  readonly operations: DecommissionOperations;
  readonly logger: Logger;
  /** The box spec in force (the job's spec envelope's body). */
  readonly spec: BoxSpec;
  /** The trust store file of operator keys (removed in step 7). */
  readonly trustStore: string;
  /** The hub API key file (deleted in step 8). */
  readonly hubApiKeyFile: string;
  /** A catalog app's manifest text (`templates/apps/<template>/.felhom.yml`). */
  readonly catalogManifest: (template: string) => Promise<string | undefined>;
  /** Who signed the job (operator key fingerprints), for the audit entries. */
  readonly actor: string;
  readonly envelopeDigest: string | null;
  /** Audit entries not yet at the hub (the agent's upload mark). @default - the whole log */
  readonly unsentAudit?: () => Promise<readonly AuditEntry[]>;
  /**
   * Called just before the hub credential is revoked, with the steps done: the agent's last
   * chance to send the job's report (afterwards the hub refuses the box). @default - none
   */
  readonly beforeHubRevocation?: (steps: readonly { readonly step: DecommissionStep; readonly detail: string }[]) => Promise<void>;
}

/** `{ action: 'decommission', confirm: <box id>, finalBackup?: { storage } }` (runner/envelope/body.ts). */
export interface DecommissionBody {
  readonly action: 'decommission';
  /** The box id again: a decommission names what it ends. */
  readonly confirm: string;
  /** @default - the spec's first pbs storage with the backup role, else its first backup storage */
  readonly finalBackup?: { readonly storage: string };
}

export interface DecommissionResult {
  readonly steps: readonly { readonly step: DecommissionStep; readonly detail: string }[];
  /** The hand-off bundle's folder on the box. */
  readonly bundle: string;
  readonly finalBackups: readonly BackupVolume[];
}

/** A decommission that cannot go on; `step` says where it stopped. Never carries a secret. */
export class DecommissionError extends FelhomError {
  declare readonly kind: 'stalled' | 'waiting';
  readonly step: DecommissionStep;
  constructor(step: DecommissionStep, code: string, message: string, options: { cause?: unknown; kind?: 'stalled' | 'waiting' } = {}) {
    super(code, options.kind ?? 'stalled', message, options.cause === undefined ? {} : { cause: options.cause });
    this.step = step;
  }
}

export const HANDOFF_DIR = 'handoff';
/** The finished steps, so a decommission resumes where it stopped. */
export const PROGRESS_FILE = 'decommission.json';

interface Progress {
  readonly done: { step: DecommissionStep; detail: string }[];
  finalBackups: BackupVolume[];
  storage: string | null;
}

/** `pbs-access.json` in the bundle: how the customer reaches their offsite namespace. */
interface PbsAccess {
  readonly storage: string;
  readonly server: string;
  readonly datastore: string;
  readonly namespace: string;
  readonly serverFingerprint: string;
  readonly username: string;
  readonly password: string | null;
  readonly note?: string;
}

export async function runDecommission(ctx: DecommissionContext, body: DecommissionBody): Promise<DecommissionResult> {
  if (body.confirm !== ctx.box) throw new DecommissionError('final-backup', 'EDECOMMISSION_CONFIRM', `the job confirms box ${JSON.stringify(body.confirm)}, but this is box ${ctx.box}`);
  const progressFile = join(ctx.stateDir, PROGRESS_FILE);
  const saved = await readOptional(progressFile);
  const progress: Progress = saved === null ? { done: [], finalBackups: [], storage: null } : (JSON.parse(saved) as Progress);
  const steps: { step: DecommissionStep; detail: string }[] = [];
  const run = async (step: DecommissionStep, work: () => Promise<string>): Promise<void> => {
    const earlier = progress.done.find((done) => done.step === step);
    if (earlier) {
      steps.push(earlier);
      return;
    }
    let detail: string;
    try {
      detail = await work();
    } catch (error) {
      const code = typeof (error as { code?: unknown }).code === 'string' ? (error as { code: string }).code : 'EDECOMMISSION';
      await ctx.audit.append({ actor: ctx.actor, action: `decommission.${step}`, box: ctx.box, tier: 'host', envelopeDigest: ctx.envelopeDigest, outcome: 'failed', reason: { code, message: (error as Error).message } });
      ctx.logger.error(`decommission stopped at ${step}`, { code });
      if (error instanceof DecommissionError) throw error;
      throw new DecommissionError(step, code, `decommission stopped at ${step}: ${(error as Error).message}`, { cause: error, kind: (error as { kind?: string }).kind === 'waiting' ? 'waiting' : 'stalled' });
    }
    steps.push({ step, detail });
    progress.done.push({ step, detail });
    await writeFileDurably(progressFile, `${JSON.stringify(progress, null, 2)}\n`, 0o600);
    ctx.logger.info(`decommission ${step}`, { detail });
    // The hub credential's own entry is written after it is gone: it stays in the local log.
    await ctx.audit.append({ actor: ctx.actor, action: `decommission.${step}`, box: ctx.box, tier: 'host', envelopeDigest: ctx.envelopeDigest, outcome: 'succeeded', reason: { code: `DECOMMISSION_${step.toUpperCase().replace(/-/g, '_')}`, message: detail } });
  };

  const storage = progress.storage ?? finalBackupStorage(ctx.spec, body);
  const vmIds = ctx.spec.spec.guests.map((guest) => guest.vmId);
  await run('final-backup', async () => {
    const finalBackups = await ctx.operations.backupNow(vmIds, storage);
    const missing = vmIds.filter((vmId) => !finalBackups.some((volume) => volume.vmId === vmId));
    if (missing.length > 0) throw new DecommissionError('final-backup', 'EFINAL_BACKUP', `the final backup to ${storage} made no archive for guest(s) ${missing.join(', ')}`);
    progress.finalBackups = finalBackups;
    progress.storage = storage;
    return `${finalBackups.length} archive(s) on ${storage}: ${finalBackups.map((volume) => volume.volid).join(', ')}`;
  });

  const bundle = join(ctx.stateDir, HANDOFF_DIR);
  await run('hand-off', async () => {
    const files = await writeHandoffBundle(ctx, bundle, progress.finalBackups, storage);
    return `hand-off bundle at ${bundle}: ${files.join(', ')}`;
  });

  await run('audit-upload', async () => {
    const entries = ctx.unsentAudit ? await ctx.unsentAudit() : await readAuditEntries(ctx.audit.file);
    if (entries.length === 0) return 'nothing new to upload';
    const { accepted } = await ctx.hub.postAudit(ctx.box, entries);
    return `${accepted} audit entr${accepted === 1 ? 'y' : 'ies'} uploaded`;
  });

  await run('escrow', async () => ((await ctx.hub.deleteEscrow(ctx.box)) ? "the hub's escrow deleted" : 'the hub held no escrow'));

  await run('tunnel', async () => {
    if (!ctx.operations.removeTunnel) return 'no tunnel on this box';
    await ctx.operations.removeTunnel();
    return 'tunnel stopped, its credentials removed';
  });

  await run('proxmox-token', async () => {
    await ctx.operations.revokeApiToken();
    return "the agent's Proxmox API token revoked";
  });

  await run('operator-keys', async () => {
    await rm(ctx.trustStore, { force: true });
    return `trust store ${ctx.trustStore} removed: no operator key is trusted on this box`;
  });

  await run('hub-credential', async () => {
    await ctx.beforeHubRevocation?.(steps);
    await ctx.hub.revokeOwnKey(ctx.box);
    await rm(ctx.hubApiKeyFile, { force: true });
    return "the box's hub API key revoked at the hub and deleted here";
  });

  return { steps, bundle, finalBackups: progress.finalBackups };
}

/** The storage of the final backup: the job's, else the offsite PBS, else the first backup storage. */
export function finalBackupStorage(spec: BoxSpec, body: Pick<DecommissionBody, 'finalBackup'>): string {
  const backups = (spec.spec.storage ?? []).filter((storage) => storage.roles.includes('backup'));
  if (body.finalBackup) {
    if (!backups.some((storage) => storage.name === body.finalBackup!.storage)) {
      throw new DecommissionError('final-backup', 'EFINAL_BACKUP', `finalBackup.storage: ${JSON.stringify(body.finalBackup.storage)} is not a storage with the backup role in the spec`);
    }
    return body.finalBackup.storage;
  }
  const chosen = backups.find((storage) => storage.type === 'pbs') ?? backups[0];
  if (!chosen) throw new DecommissionError('final-backup', 'EFINAL_BACKUP', 'the spec has no storage with the backup role to take the final backup to');
  return chosen.name;
}

async function writeHandoffBundle(ctx: DecommissionContext, bundle: string, finalBackups: readonly BackupVolume[], storage: string): Promise<string[]> {
  await mkdir(bundle, { recursive: true, mode: 0o700 });
  const written: Record<string, string> = {};
  const put = async (name: string, content: string) => {
    await mkdir(join(bundle, name, '..'), { recursive: true, mode: 0o700 });
    await writeFileDurably(join(bundle, name), content, 0o600);
    written[name] = createHash('sha256').update(content).digest('hex');
  };
  const keyfile = await readBoxKeyfile(ctx.stateDir);
  if (keyfile === null) throw new DecommissionError('hand-off', 'ENO_KEY', 'the box has no PBS key to hand off (custody was never set up)');
  const custody = await readCustodyState(ctx.stateDir);
  await put('pbs-encryption-key.json', keyfile);
  const pbs = (ctx.spec.spec.storage ?? []).filter((s): s is PbsStorageSpec => s.type === 'pbs');
  const access: PbsAccess[] = [];
  for (const storageSpec of pbs) {
    const password = 'ref' in storageSpec.password ? await readOptional(join(ctx.stateDir, 'secrets', storageSpec.password.ref)) : null;
    access.push({
      storage: storageSpec.name,
      server: storageSpec.identity.server,
      datastore: storageSpec.identity.datastore,
      namespace: storageSpec.namespace ?? `customers/${ctx.spec.metadata.customer}`,
      serverFingerprint: storageSpec.identity.fingerprint,
      username: storageSpec.username,
      ...(password !== null ? { password: password.replace(/\r?\n$/, '') } : { password: null, note: 'the password was encrypted in the spec; ask the operator for a fresh PBS credential' }),
    });
  }
  await put('pbs-access.json', `${JSON.stringify(access, null, 2)}\n`);
  await put('box-spec.json', `${JSON.stringify(ctx.spec, null, 2)}\n`);
  for (const app of ctx.spec.spec.apps ?? []) {
    const manifest = await ctx.catalogManifest(app.template);
    if (manifest !== undefined) await put(`apps/${app.template}.felhom.yml`, manifest);
  }
  await put('final-backups.json', `${JSON.stringify({ storage, archives: finalBackups }, null, 2)}\n`);
  await put('RECOVERY.txt', recoveryInstructions(ctx, keyfileInfo(keyfile).fingerprint ?? custody?.fingerprint ?? '', access, finalBackups));
  await writeFileDurably(join(bundle, 'SHA256SUMS'), Object.entries(written).map(([name, digest]) => `${digest}  ${name}`).join('\n') + '\n', 0o600);
  return [...Object.keys(written), 'SHA256SUMS'];
}

function recoveryInstructions(ctx: DecommissionContext, fingerprint: string, access: readonly PbsAccess[], finalBackups: readonly BackupVolume[]): string {
  const repo = access[0] ? `${access[0].username}@${access[0].server}:${access[0].datastore}` : '<user>@<pbs server>:<datastore>';
  const namespace = access[0]?.namespace ?? '<namespace>';
  return [
    `Restoring box ${ctx.box} without Felhom`,
    '',
    `Your backups are encrypted with the PBS key in pbs-encryption-key.json (fingerprint ${fingerprint}).`,
    'Its passphrase is the recovery code on your recovery sheet.',
    '',
    'With the stock Proxmox tools (proxmox-backup-client, or a Proxmox VE host):',
    `  export PBS_REPOSITORY=${repo}`,
    `  proxmox-backup-client snapshot list --ns ${namespace} --keyfile pbs-encryption-key.json`,
    `  proxmox-backup-client restore --ns ${namespace} ct/<vmid>/<time> root.pxar ./restore --keyfile pbs-encryption-key.json`,
    'On a Proxmox VE host: add the PBS storage (Datacenter > Storage > Add > Proxmox Backup Server) with',
    'pbs-access.json\'s server, datastore, namespace and credentials, upload pbs-encryption-key.json as its',
    'encryption key, then restore each container from the storage\'s Backups tab (pct restore).',
    '',
    'The final backups taken before the hand-off:',
    ...finalBackups.map((volume) => `  guest ${volume.vmId}: ${volume.volid}`),
    '',
    'box-spec.json describes the box as it ran; apps/ holds the catalog manifest of each app.',
    '',
  ].join('\n');
}

async function readAuditEntries(file: string): Promise<AuditEntry[]> {
  const text = (await readOptional(file)) ?? '';
  return text.split('\n').filter(Boolean).map((line) => JSON.parse(line) as AuditEntry);
}
