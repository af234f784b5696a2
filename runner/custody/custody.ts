/**
 * Key custody on the box (docs/architecture.md#key-custody, docs/key-custody.md): the box's PBS encryption key, who can
 * open it, and every access to its escrow, each an entry in the customer-visible audit log.
 *
 *   <state>/keys/pbs-encryption-key.json   the PBS keyfile, passphrase = the recovery code
 *   <state>/keys/custody.json              custody, fingerprint, failed unwraps, accesses seen
 *   <state>/secrets/<storage secret>       the same key without passphrase, for the PBS storage
 *
 * - `customer-only`: the key leaves the box only to the customer (the hand-off bundle, the
 *   recovery sheet); the hub holds nothing.
 * - `zero-knowledge-escrow` (default): the hub holds the keyfile wrapped under the recovery code.
 * - `operator-managed`: as the escrow, plus the code encrypted to the operator keys the spec
 *   names, so those operators can unwrap it without the customer; visible in the blob, the spec
 *   and every access the hub records.
 *
 * The recovery code is returned once, to be shown to the customer, and written nowhere.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as openpgp from 'openpgp';
import type { KeyCustody } from '../../stacks/spec/types.js';
import { fingerprintOf } from '../envelope/keys.js';
import type { HubClient } from '../hub/client.js';
import type { EscrowAccess } from '../hub/protocol.js';
import type { AuditLog, AuditOutcome, Reason } from '../state/audit.js';
import { writeFileDurably } from '../state/store.js';
import { EscrowError, unwrapEscrow, wrapKeyfile } from './escrow.js';
import { createKeyfile, keyfileInfo, keyfileWithoutPassphrase, openKeyfile, shortKeyId } from './pbs-keyfile.js';
import { newRecoveryCode, normalizeRecoveryCode } from './recovery-code.js';
import { FelhomError } from '../../lib/errors.js';

export const DEFAULT_CUSTODY: KeyCustody = 'zero-knowledge-escrow';
export const KEYFILE_NAME = 'pbs-encryption-key.json';
export const CUSTODY_STATE_NAME = 'custody.json';

/** Why a custody step cannot go on: a person must act (a missing hub, an existing key). */
export class CustodyError extends FelhomError {
  declare readonly kind: 'stalled';
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, 'stalled', message, options);
  }
}

export interface CustodyState {
  readonly custody: KeyCustody;
  /** PBS fingerprint of the box's key. */
  readonly fingerprint: string;
  readonly createdAt: string;
  /** When the hub last stored the escrow, or null (customer-only, or not yet uploaded). */
  readonly escrowedAt: string | null;
  /** OpenPGP fingerprints of the operator keys that can unwrap (operator-managed only). */
  readonly operatorKeys: readonly string[];
  /** Wrong recovery codes entered on this box. */
  readonly failedUnwraps: number;
  /** How many of the hub's escrow accesses are already in the audit log. */
  readonly accessesSeen: number;
}

export interface CustodyContext {
  readonly stateDir: string;
  readonly box: string;
  readonly audit: AuditLog;
  /** The box's hub client (its own API key). Required unless custody is customer-only. */
  readonly hub?: HubClient;
  /** Who the audit entries name: `agent`, or a signed job's operator fingerprints. @default agent */
  readonly actor?: string;
  /** The envelope that asked for the step, for the audit entries. @default null */
  readonly envelopeDigest?: string | null;
  readonly clock?: () => Date;
  /** Scrypt costs; only tests lower them. */
  readonly cost?: { readonly keyfile?: { n: number; r: number; p: number }; readonly escrow?: { n: number; r: number; p: number } };
}

export function custodyFiles(stateDir: string): { keyfile: string; state: string; secrets: string } {
  return { keyfile: join(stateDir, 'keys', KEYFILE_NAME), state: join(stateDir, 'keys', CUSTODY_STATE_NAME), secrets: join(stateDir, 'secrets') };
}

export async function readCustodyState(stateDir: string): Promise<CustodyState | null> {
  const text = await readOptional(custodyFiles(stateDir).state);
  return text === null ? null : (JSON.parse(text) as CustodyState);
}

/** The box's passphrase-protected keyfile, or null before `createBoxKey`. */
export function readBoxKeyfile(stateDir: string): Promise<string | null> {
  return readOptional(custodyFiles(stateDir).keyfile);
}

export interface CreateBoxKeyOptions {
  /** @default zero-knowledge-escrow */
  readonly custody?: KeyCustody;
  /** With operator-managed custody: the operator keys the spec names. */
  readonly operatorKeys?: readonly openpgp.PublicKey[];
  /** The secret name (`<state>/secrets/<name>`) the PBS storage's `encryptionKey: { ref }` reads. @default - none written */
  readonly storageSecret?: string;
}

export interface CreatedBoxKey {
  /** Show this once to the customer (the recovery sheet); it is stored nowhere. */
  readonly recoveryCode: string;
  readonly fingerprint: string;
  readonly custody: KeyCustody;
  readonly escrowed: boolean;
}

/** Creates the box's PBS key under a fresh recovery code and escrows it as the custody says. */
export async function createBoxKey(ctx: CustodyContext, options: CreateBoxKeyOptions = {}): Promise<CreatedBoxKey> {
  const custody = options.custody ?? DEFAULT_CUSTODY;
  const files = custodyFiles(ctx.stateDir);
  if ((await readOptional(files.keyfile)) !== null) throw new CustodyError('EKEY_EXISTS', `box ${ctx.box} already has a PBS key (${files.keyfile}); a second key would orphan every backup made with the first`);
  checkCustodyNeeds(ctx, custody, options.operatorKeys);
  const recoveryCode = newRecoveryCode();
  const keyfile = await createKeyfile(recoveryCode, { ...(ctx.cost?.keyfile ? { scrypt: ctx.cost.keyfile } : {}), ...(ctx.clock ? { clock: ctx.clock } : {}) });
  await mkdir(join(ctx.stateDir, 'keys'), { recursive: true, mode: 0o700 });
  await writeFileDurably(files.keyfile, keyfile.text, 0o600);
  if (options.storageSecret !== undefined) await writeStorageSecret(ctx, files.secrets, options.storageSecret, keyfile.text, recoveryCode);
  const createdAt = now(ctx);
  await writeState(ctx.stateDir, { custody, fingerprint: keyfile.fingerprint, createdAt, escrowedAt: null, operatorKeys: [], failedUnwraps: 0, accessesSeen: 0 });
  await record(ctx, 'key.create', 'succeeded', { code: 'KEY_CREATED', message: `PBS key ${shortKeyId(keyfile.fingerprint)} created under ${custody} custody` });
  const escrowed = custody !== 'customer-only';
  if (escrowed) await escrowBoxKey(ctx, { custody, recoveryCode, ...(options.operatorKeys ? { operatorKeys: options.operatorKeys } : {}) });
  return { recoveryCode, fingerprint: keyfile.fingerprint, custody, escrowed };
}

/** Wraps the box's keyfile under the recovery code (and operator keys) and stores it at the hub. */
export async function escrowBoxKey(ctx: CustodyContext, options: { custody: Exclude<KeyCustody, 'customer-only'>; recoveryCode: string; operatorKeys?: readonly openpgp.PublicKey[] }): Promise<void> {
  checkCustodyNeeds(ctx, options.custody, options.operatorKeys);
  const keyfile = await requireKeyfile(ctx);
  try {
    const blob = await wrapKeyfile({
      box: ctx.box,
      keyfile,
      recoveryCode: options.recoveryCode,
      custody: options.custody,
      ...(options.custody === 'operator-managed' ? { operatorKeys: options.operatorKeys ?? [] } : {}),
      ...(ctx.cost?.escrow ? { scrypt: ctx.cost.escrow } : {}),
      ...(ctx.clock ? { clock: ctx.clock } : {}),
    });
    const { storedAt } = await ctx.hub!.putEscrow(ctx.box, blob);
    const operatorKeys = (options.operatorKeys ?? []).map(fingerprintOf);
    await updateState(ctx.stateDir, { custody: options.custody, escrowedAt: storedAt, operatorKeys: options.custody === 'operator-managed' ? operatorKeys : [] });
    const who = operatorKeys.length > 0 ? `; operator keys ${operatorKeys.join(', ')} can unwrap it` : '; only the recovery code opens it';
    await record(ctx, 'key.escrow.store', 'succeeded', { code: 'ESCROW_STORED', message: `PBS key ${shortKeyId(blob.fingerprint)} escrowed at the hub under ${options.custody}${who}` });
  } catch (error) {
    await record(ctx, 'key.escrow.store', 'failed', reasonOf(error));
    throw error;
  }
}

/**
 * Changes who can open the key. To `customer-only` the hub's escrow is deleted (no code
 * needed); to the other two the customer's recovery code must be entered: it is what the new
 * escrow is wrapped under, and the box does not keep it.
 */
export async function changeCustody(ctx: CustodyContext, options: { custody: KeyCustody; recoveryCode?: string; operatorKeys?: readonly openpgp.PublicKey[] }): Promise<CustodyState> {
  const state = await readCustodyState(ctx.stateDir);
  if (!state) throw new CustodyError('ENO_KEY', `box ${ctx.box} has no PBS key yet; create one first (felhom custody create)`);
  if (options.custody === 'customer-only') {
    checkCustodyNeeds(ctx, 'zero-knowledge-escrow', undefined);
    const deleted = await ctx.hub!.deleteEscrow(ctx.box);
    await updateState(ctx.stateDir, { custody: 'customer-only', escrowedAt: null, operatorKeys: [] });
    await record(ctx, 'key.custody.change', 'succeeded', { code: 'CUSTODY_CHANGED', message: `key custody ${state.custody} → customer-only; the hub's escrow ${deleted ? 'was deleted' : 'was already absent'}` });
  } else {
    if (options.recoveryCode === undefined) throw new CustodyError('ERECOVERY_CODE_NEEDED', `changing key custody to ${options.custody} needs the customer's recovery code, entered on the box`);
    await escrowBoxKey(ctx, { custody: options.custody, recoveryCode: options.recoveryCode, ...(options.operatorKeys ? { operatorKeys: options.operatorKeys } : {}) });
    await record(ctx, 'key.custody.change', 'succeeded', { code: 'CUSTODY_CHANGED', message: `key custody ${state.custody} → ${options.custody}` });
  }
  return (await readCustodyState(ctx.stateDir))!;
}

export interface RecoveredKey {
  readonly fingerprint: string;
  /** The PBS keyfile (opens with the recovery code in the stock client). */
  readonly keyfile: string;
  readonly custody: KeyCustody;
}

/**
 * Disaster recovery (docs/architecture.md#restore-mode): the freshly enrolled box fetches its escrow and opens it with the
 * code the customer typed. A wrong code is refused, counted and audited; the operator alone
 * (zero-knowledge) cannot complete this. On success the keyfile (and the storage secret) are
 * written, so the existing restore path can read the PBS backups.
 */
export async function recoverFromEscrow(ctx: CustodyContext, typedCode: string, options: { storageSecret?: string } = {}): Promise<RecoveredKey> {
  checkCustodyNeeds(ctx, 'zero-knowledge-escrow', undefined);
  const code = normalizeRecoveryCode(typedCode);
  const held = await ctx.hub!.fetchEscrow(ctx.box);
  if (!held) {
    await record(ctx, 'key.escrow.read', 'failed', { code: 'ENO_ESCROW', message: 'the hub holds no escrow for this box' });
    throw new CustodyError('ENO_ESCROW', `the hub holds no escrow for box ${ctx.box}: with customer-only custody, restore the keyfile from the customer's hand-off bundle`);
  }
  await record(ctx, 'key.escrow.read', 'succeeded', { code: 'ESCROW_READ', message: `escrow of PBS key ${shortKeyId(held.escrow.fingerprint)} fetched from the hub for recovery` });
  let keyfile: string;
  try {
    keyfile = await unwrapEscrow(held.escrow, code, ctx.box);
  } catch (error) {
    if (error instanceof EscrowError && error.reason === 'wrong-code') {
      const failed = await countFailedUnwrap(ctx.stateDir);
      await record(ctx, 'key.escrow.unwrap', 'rejected', { code: error.code, message: `a wrong recovery code was entered (${failed} so far on this box)` });
    }
    throw error;
  }
  const files = custodyFiles(ctx.stateDir);
  await mkdir(join(ctx.stateDir, 'keys'), { recursive: true, mode: 0o700 });
  await writeFileDurably(files.keyfile, keyfile, 0o600);
  if (options.storageSecret !== undefined) await writeStorageSecret(ctx, files.secrets, options.storageSecret, keyfile, code);
  const previous = await readCustodyState(ctx.stateDir);
  const info = keyfileInfo(keyfile);
  await writeState(ctx.stateDir, {
    custody: held.escrow.custody,
    fingerprint: held.escrow.fingerprint,
    createdAt: info.created,
    escrowedAt: held.storedAt,
    operatorKeys: (held.escrow.operatorWraps ?? []).map((wrap) => wrap.keyFingerprint),
    failedUnwraps: previous?.failedUnwraps ?? 0,
    accessesSeen: previous?.accessesSeen ?? 0,
  });
  await record(ctx, 'key.escrow.unwrap', 'succeeded', { code: 'ESCROW_UNWRAPPED', message: `PBS key ${shortKeyId(held.escrow.fingerprint)} recovered with the customer's recovery code` });
  return { fingerprint: held.escrow.fingerprint, keyfile, custody: held.escrow.custody };
}

/**
 * Copies the hub's record of escrow accesses the audit log does not hold yet into it, one entry
 * each (actor: `box` or the operator's name). Returns the new ones made by operators: those are
 * what the customer is notified of.
 */
export async function syncEscrowAccesses(ctx: CustodyContext): Promise<EscrowAccess[]> {
  checkCustodyNeeds(ctx, 'zero-knowledge-escrow', undefined);
  const state = await readCustodyState(ctx.stateDir);
  const accesses = await ctx.hub!.listEscrowAccesses(ctx.box);
  const seen = Math.min(state?.accessesSeen ?? 0, accesses.length);
  const fresh = accesses.slice(seen);
  for (const access of fresh) {
    await ctx.audit.append({
      actor: access.by,
      action: `key.escrow.hub-${access.action}`,
      box: ctx.box,
      tier: 'host',
      envelopeDigest: null,
      outcome: 'accepted',
      reason: { code: 'ESCROW_ACCESS', message: `the hub recorded: ${access.by === 'box' ? 'this box' : `operator ${access.by}`} ${access.action === 'store' ? 'stored' : access.action === 'read' ? 'read' : 'deleted'} the escrow at ${access.at}` },
    });
  }
  if (state) await updateState(ctx.stateDir, { accessesSeen: accesses.length });
  return fresh.filter((access) => access.by !== 'box');
}

/** The recovery sheet the customer prints: what the code opens and how to restore without Felhom. */
export function recoverySheet(info: { box: string; recoveryCode: string; fingerprint: string; custody: KeyCustody; pbs?: { server: string; datastore: string; namespace?: string } }): string {
  const lines = [
    `FELHOM RECOVERY SHEET — box ${info.box}`,
    '',
    'Recovery code (keep this sheet somewhere safe; it is shown only once and stored nowhere):',
    '',
    `    ${info.recoveryCode}`,
    '',
    `Backup encryption key: Proxmox Backup Server key, fingerprint`,
    `    ${info.fingerprint}`,
    `Key custody: ${info.custody}`,
    '',
    'What the code opens:',
    '  - the backup encryption keyfile (pbs-encryption-key.json in your hand-off bundle) with the stock',
    '    Proxmox tools: proxmox-backup-client key show / restore --keyfile <file>; the passphrase is this code;',
    info.custody === 'customer-only'
      ? '  - nothing at Felhom: with customer-only custody the operator holds no copy of the key.'
      : '  - the escrowed copy at the Felhom hub, on a replacement box (felhom custody unwrap / restore mode).',
    '',
  ];
  if (info.pbs) {
    lines.push('Where the offsite backups are:', `  server ${info.pbs.server}, datastore ${info.pbs.datastore}${info.pbs.namespace ? `, namespace ${info.pbs.namespace}` : ''}`, '');
  }
  lines.push('Letters and digits only: O is read as 0, I and L as 1; dashes and spaces do not matter.', '');
  return lines.join('\n');
}

/** Checks a typed recovery code against the box's keyfile without touching the hub. */
export async function checkRecoveryCode(stateDir: string, typedCode: string): Promise<string> {
  const keyfile = await readBoxKeyfile(stateDir);
  if (keyfile === null) throw new CustodyError('ENO_KEY', 'this box has no PBS key yet');
  const code = normalizeRecoveryCode(typedCode);
  const opened = await openKeyfile(keyfile, code);
  opened.key.fill(0);
  return code;
}

// ---- plumbing ---------------------------------------------------------------------------------

function checkCustodyNeeds(ctx: CustodyContext, custody: KeyCustody, operatorKeys: readonly openpgp.PublicKey[] | undefined): void {
  if (custody !== 'customer-only' && !ctx.hub) throw new CustodyError('EHUB_NEEDED', `${custody} custody keeps the escrow at the hub; this box has no hub client`);
  if (custody === 'operator-managed' && (operatorKeys ?? []).length === 0) throw new CustodyError('EOPERATOR_KEYS_NEEDED', 'operator-managed custody needs the operator keys that may unwrap the key');
}

async function requireKeyfile(ctx: CustodyContext): Promise<string> {
  const keyfile = await readBoxKeyfile(ctx.stateDir);
  if (keyfile === null) throw new CustodyError('ENO_KEY', `box ${ctx.box} has no PBS key yet; create one first (felhom custody create)`);
  return keyfile;
}

async function writeStorageSecret(ctx: CustodyContext, secretsDir: string, name: string, keyfile: string, code: string): Promise<void> {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new CustodyError('EUSAGE', `storage secret name ${JSON.stringify(name)}: expected letters, digits, dots, dashes`);
  const opened = await openKeyfile(keyfile, code);
  try {
    await mkdir(secretsDir, { recursive: true, mode: 0o700 });
    await writeFileDurably(join(secretsDir, name), keyfileWithoutPassphrase(opened.key, opened.created, ctx.clock ? { clock: ctx.clock } : {}).text, 0o600);
  } finally {
    opened.key.fill(0);
  }
}

async function countFailedUnwrap(stateDir: string): Promise<number> {
  const state = await readCustodyState(stateDir);
  const failed = (state?.failedUnwraps ?? 0) + 1;
  if (state) await updateState(stateDir, { failedUnwraps: failed });
  else {
    // A replacement box has no custody state yet: keep the count on its own until recovery.
    await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
    await writeState(stateDir, { custody: DEFAULT_CUSTODY, fingerprint: '', createdAt: '', escrowedAt: null, operatorKeys: [], failedUnwraps: failed, accessesSeen: 0 });
  }
  return failed;
}

async function writeState(stateDir: string, state: CustodyState): Promise<void> {
  await writeFileDurably(custodyFiles(stateDir).state, `${JSON.stringify(state, null, 2)}\n`, 0o600);
}

async function updateState(stateDir: string, change: Partial<CustodyState>): Promise<void> {
  const state = await readCustodyState(stateDir);
  await writeState(stateDir, { ...(state as CustodyState), ...change });
}

async function record(ctx: CustodyContext, action: string, outcome: AuditOutcome, reason: Reason): Promise<void> {
  await ctx.audit.append({ actor: ctx.actor ?? 'agent', action, box: ctx.box, tier: 'host', envelopeDigest: ctx.envelopeDigest ?? null, outcome, reason });
}

function reasonOf(error: unknown): Reason {
  const code = (error as { code?: unknown }).code;
  return { code: typeof code === 'string' ? code : 'EESCROW', message: (error as Error).message };
}

function now(ctx: CustodyContext): string {
  return (ctx.clock ?? (() => new Date()))().toISOString();
}

/** A file's text, or null when it does not exist. */
export async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
