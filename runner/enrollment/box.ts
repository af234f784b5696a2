/**
 * The box's side of enrollment (docs/architecture.md#enrollment, docs/hub-protocol.md "Enrollment"), as
 * `felhom agent enroll` runs it at physical presence:
 *
 *  1. generate the agent's own OpenPGP key and hub API key, and write them (0600) before the hub
 *     hears of them: `<state>/enrollment.json` says `generated`;
 *  2. redeem the code, registering the public halves (the key's sha256, the public key): the code
 *     is burned and the configuration comes back (`redeemed`). An answer lost on the way is
 *     fetched again with the credential: the code is irrelevant from here on;
 *  3. verify the configuration against the trust root the code (or the image) carries, and only
 *     then pin its operator keys in `<state>/trust.json` (`pinned`);
 *  4. tell the hub enrollment completed (`completed`).
 *
 * A retry resumes from the stage written. Only a code burned while this state directory holds no
 * credentials for it (the state was lost, or another directory was used) needs a regenerated code.
 */
import { randomBytes, createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { generateKey, readPublicKey, fingerprintOf, writeTrustStore } from '../envelope/index.js';
import { HubAuthError, HubClient, HubError, HubRequestError, HubUnavailableError } from '../hub/client.js';
import { prepareStateDir, readSecretFile, type StateLayout } from '../agent/state-dir.js';
import { writeFileDurably } from '../state/store.js';
import { enrollmentCodeDigest, parseEnrollmentCode, TRUST_ROOT_HEX } from './code.js';
import { verifyEnrollmentConfig } from './config.js';
import { EnrollmentError } from './errors.js';

export const ENROLLMENT_STAGES = ['generating', 'generated', 'redeemed', 'pinned', 'completed'] as const;
export type EnrollmentStage = (typeof ENROLLMENT_STAGES)[number];

/** `<state>/enrollment.json`: no secrets, only where the enrollment got to. */
export interface EnrollmentProgress {
  version: 1;
  box: string;
  hub: string;
  stage: EnrollmentStage;
  /** sha256 of the code being redeemed (the configuration must name it). */
  codeDigest: string;
  /** The trust root the configuration was (or will be) checked against. */
  trustRoot: string;
  agentFingerprint?: string;
  operatorFingerprints?: string[];
  threshold?: number;
  completedAt?: string;
}

export interface EnrollBoxOptions {
  readonly hubUrl: string;
  readonly code: string;
  readonly stateDir: string;
  /** A trust root given besides the code (the image's, or a full fingerprint on the command line): both must agree. */
  readonly trustRoot?: string;
  readonly hubTimeoutMs?: number;
  /** @default - now */
  readonly now?: () => Date;
  /** Called after each stage is written (progress lines). */
  readonly onStage?: (stage: EnrollmentStage) => void;
}

export interface EnrollBoxResult {
  readonly box: string;
  readonly hub: string;
  /** Whether the state directory already held a completed enrollment for this box. */
  readonly alreadyEnrolled: boolean;
  /** Whether this run continued an enrollment an earlier run began. */
  readonly resumed: boolean;
  readonly trustStore: string;
  readonly operatorFingerprints: readonly string[];
  readonly threshold: number;
  readonly agentFingerprint: string;
  readonly apiKeyFile: string;
  readonly completedAt: string;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function readProgress(layout: StateLayout): Promise<EnrollmentProgress | null> {
  let text: string;
  try {
    text = await readFile(layout.enrollment, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new EnrollmentError('EENROLL_STATE', `cannot read ${layout.enrollment}: ${(error as NodeJS.ErrnoException).code ?? 'EIO'}`, { fault: 'environment' });
  }
  let value: EnrollmentProgress;
  try {
    value = JSON.parse(text) as EnrollmentProgress;
  } catch {
    throw new EnrollmentError('EENROLL_STATE', `${layout.enrollment} is not JSON; move it away to enroll this state directory again`);
  }
  if (value?.version !== 1 || typeof value.box !== 'string' || !ENROLLMENT_STAGES.includes(value.stage)) {
    throw new EnrollmentError('EENROLL_STATE', `${layout.enrollment} is not an enrollment record this agent knows`);
  }
  return value;
}

async function writeProgress(layout: StateLayout, progress: EnrollmentProgress): Promise<void> {
  await writeFileDurably(layout.enrollment, `${JSON.stringify(progress, null, 2)}\n`, 0o600);
}

/** Whether the two spellings of a trust root name the same key (one a prefix of the other). */
function trustRootsAgree(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}

function hubFailure(error: unknown, what: string): never {
  if (error instanceof HubUnavailableError) {
    throw new EnrollmentError('EENROLL_HUB', `${what}: ${error.message}; run the same command again (with the same --state): it resumes where it stopped`, { kind: 'waiting', cause: error });
  }
  throw error;
}

export async function enrollBox(options: EnrollBoxOptions): Promise<EnrollBoxResult> {
  const now = options.now ?? (() => new Date());
  const code = parseEnrollmentCode(options.code);
  const codeDigest = enrollmentCodeDigest(code.code);
  let trustRoot = code.trustRoot;
  if (options.trustRoot !== undefined) {
    const given = options.trustRoot.replace(/\s/g, '').toUpperCase();
    if (!/^[0-9A-F]+$/.test(given) || given.length < TRUST_ROOT_HEX) throw new EnrollmentError('EENROLL_CODE', `--trust-root: expected at least ${TRUST_ROOT_HEX} hex digits of the operator key's fingerprint`, { kind: 'usage' });
    if (!trustRootsAgree(given, code.trustRoot)) {
      throw new EnrollmentError('EENROLL_UNTRUSTED', `the code names trust root ${code.trustRoot}, this box was given ${given}: refused, nothing was contacted or pinned`);
    }
    if (given.length > trustRoot.length) trustRoot = given;
  }
  const layout = await prepareStateDir(options.stateDir);
  let progress = await readProgress(layout);
  const resumed = progress !== null && progress.stage !== 'generating';
  const stage = (next: EnrollmentStage, extra: Partial<EnrollmentProgress> = {}) => {
    progress = { ...progress!, ...extra, stage: next };
    return writeProgress(layout, progress).then(() => options.onStage?.(next));
  };

  if (progress && progress.box !== code.box) {
    throw new EnrollmentError('EENROLL_STATE', `${layout.root} holds the enrollment of box ${progress.box}, not ${code.box}; use another --state directory`);
  }
  if (progress && !trustRootsAgree(progress.trustRoot, trustRoot) && (progress.stage === 'pinned' || progress.stage === 'completed')) {
    throw new EnrollmentError('EENROLL_UNTRUSTED', `${layout.root} pinned trust root ${progress.trustRoot}; this code names ${trustRoot}`);
  }

  // 1. The agent's own key and hub credential, on disk before the hub hears of them.
  if (!progress || progress.stage === 'generating') {
    if (!progress && (await exists(layout.hubApiKey))) {
      throw new EnrollmentError('EENROLL_STATE', `${layout.hubApiKey} exists but ${layout.enrollment} does not: this state directory was set up another way; enroll into an empty --state directory`);
    }
    progress = { version: 1, box: code.box, hub: options.hubUrl, stage: 'generating', codeDigest, trustRoot };
    await writeProgress(layout, progress);
    const passphrase = randomBytes(32).toString('base64url');
    const key = await generateKey({ name: `felhom agent ${code.box}`, email: `agent@${code.box}.boxes.felhom.invalid`, passphrase, date: now() });
    await writeFileDurably(layout.agentKeyPassphrase, `${passphrase}\n`, 0o600);
    await writeFileDurably(layout.agentKey, key.privateKey, 0o600);
    await writeFileDurably(layout.agentPublicKey, key.publicKey, 0o644);
    await writeFileDurably(layout.hubApiKey, `fhb_${randomBytes(32).toString('base64url')}\n`, 0o600);
    await stage('generated', { agentFingerprint: key.fingerprint });
  }
  const apiKey = await readSecretFile(layout.hubApiKey);
  const publicKeyText = await readFile(layout.agentPublicKey, 'utf8').catch(() => undefined);
  if (!apiKey || !publicKeyText) throw new EnrollmentError('EENROLL_STATE', `${layout.keys} lost the credentials this enrollment generated; enroll into an empty --state directory with a regenerated code`);
  const agentFingerprint = fingerprintOf(await readPublicKey(publicKeyText, layout.agentPublicKey));
  const anonymous = new HubClient({ url: progress.hub, ...(options.hubTimeoutMs ? { timeoutMs: options.hubTimeoutMs } : {}) });
  const hub = new HubClient({ url: progress.hub, token: apiKey, ...(options.hubTimeoutMs ? { timeoutMs: options.hubTimeoutMs } : {}) });
  const regenerate = `ask the operator for a regenerated code (felhom hub enroll --box ${code.box} --regenerate)`;

  // 2. Redeem the code, or, once it was redeemed, fetch the configuration with the credential.
  let envelope: string | undefined;
  if (progress.stage === 'generated' || (progress.stage === 'redeemed' && progress.codeDigest !== codeDigest)) {
    // A new code (regenerated after a failure) replaces the old one; the credentials stay.
    if (progress.codeDigest !== codeDigest || progress.trustRoot !== trustRoot) await stage('generated', { codeDigest, trustRoot });
    try {
      envelope = (await anonymous.redeemEnrollmentCode(code.box, { code: code.code, credentialHash: createHash('sha256').update(apiKey).digest('hex'), agentPublicKey: publicKeyText })).envelope;
    } catch (error) {
      if (error instanceof HubAuthError) throw new EnrollmentError('EENROLL_CODE_INVALID', `the hub does not accept this code for box ${code.box} (mistyped, or replaced by a regenerated one); ${regenerate} if it persists`, { cause: error });
      if (error instanceof HubRequestError && error.code === 'EENROLL_CODE_EXPIRED') throw new EnrollmentError('EENROLL_CODE_EXPIRED', `${error.message.replace(/^.*: /, '')}; ${regenerate}`, { cause: error });
      if (!(error instanceof HubRequestError && error.code === 'EENROLL_CODE_USED')) hubFailure(error, 'redeeming the code');
      // Used: by this box (its answer was lost on the way), or by someone else.
      try {
        envelope = (await hub.fetchEnrollmentConfig(code.box)).envelope;
      } catch (again) {
        if (again instanceof HubAuthError || again instanceof HubRequestError) {
          throw new EnrollmentError('EENROLL_CODE_USED', `the code for box ${code.box} was already used, and not with the credentials in ${layout.root}: nothing from that enrollment was kept here; ${regenerate}`, { cause: again });
        }
        hubFailure(again, 'fetching the enrollment configuration');
      }
    }
    await stage('redeemed');
  }
  if (progress.stage === 'redeemed') {
    if (envelope === undefined) {
      try {
        envelope = (await hub.fetchEnrollmentConfig(code.box)).envelope;
      } catch (error) {
        if (error instanceof HubAuthError) throw new EnrollmentError('EENROLL_REVOKED', `the hub no longer accepts the credentials in ${layout.root} (the code was regenerated meanwhile?); run this command with the new code`, { cause: error });
        hubFailure(error, 'fetching the enrollment configuration');
      }
    }
    // 3. Nothing is pinned unless the trust root signed it.
    const verified = await verifyEnrollmentConfig(envelope, { box: code.box, codeDigest: progress.codeDigest, trustRoot: progress.trustRoot, now: now() });
    await writeTrustStore(layout.trustStore, verified.trust);
    await stage('pinned', { operatorFingerprints: verified.trust.keys.map((key) => key.fingerprint), threshold: verified.trust.threshold, agentFingerprint });
  }

  // 4. The hub records the box as enrolled; the code can no longer be regenerated.
  let alreadyEnrolled = false;
  if (progress.stage === 'pinned') {
    try {
      await stage('completed', { completedAt: (await hub.completeEnrollment(code.box)).completedAt });
    } catch (error) {
      if (error instanceof HubAuthError) throw new EnrollmentError('EENROLL_REVOKED', `the hub no longer accepts the credentials in ${layout.root}; the operator must look at box ${code.box}`, { cause: error });
      if (error instanceof HubError && !(error instanceof HubUnavailableError)) throw error;
      hubFailure(error, 'completing the enrollment');
    }
  } else {
    alreadyEnrolled = resumed;
  }
  return {
    box: code.box,
    hub: progress.hub,
    alreadyEnrolled,
    resumed,
    trustStore: layout.trustStore,
    operatorFingerprints: progress.operatorFingerprints ?? [],
    threshold: progress.threshold ?? 0,
    agentFingerprint,
    apiKeyFile: layout.hubApiKey,
    completedAt: progress.completedAt!,
  };
}
