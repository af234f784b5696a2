/**
 * The reference hub's embedded storage ({@link HubStore}, the default for one machine): enrolled
 * boxes (key hashes only), the desired spec envelope and pending job envelopes per (box, tier),
 * reports, each box's uploaded audit log, operator accounts (token hashes only) and what they
 * did, in one durable lowdb document (runner/state/store.ts). A fleet outgrows one document
 * rewritten on every write; hub/postgres.ts is the backend for that.
 *
 * Reads never touch the disk: lowdb keeps the document in memory, and ETags are computed at
 * write time, so a box polling an unchanged spec costs a hash lookup.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Tier } from '../stacks/spec/types.js';
import type { AuditEntry } from '../runner/state/audit.js';
import { DurableStore } from '../runner/state/store.js';
import type { BoxSummary, EnrollmentCodeResponse, EnrollmentStatus, EscrowAccess, EscrowBlob, EscrowResponse, OperatorActivity, OperatorSummary, PendingJob, PublishResponse, Report, ReportRequest } from '../runner/hub/protocol.js';
import { readRoutingHeader } from './routing.js';
import { HubRefusal } from './refusal.js';
import { CODE_FAILURE_WINDOW_MS, MAX_CODE_FAILURES } from '../runner/hub/protocol.js';
import { BOOTSTRAP_OPERATOR, BOX_ACTOR, boxThrottle, ESCROW_ACCESSES_KEPT, newAuditEntries, REVOKED_KEY_HASH, type CodeRegistration, type IssueCodeRequest, type RedeemOutcome, type BoxFacts, type ChangeListener, type HubStore, type StoredEnvelope, type TierFacts } from './store.js';

export type { StoredEnvelope } from './store.js';

interface StreamRecord {
  /** Highest serial published for this (box, tier), spec or job. */
  lastSerial: number;
  spec: StoredEnvelope | null;
  /** Jobs published and not yet reported as finished. */
  jobs: StoredEnvelope[];
}

export interface HubData {
  version: 1;
  boxes: Record<string, { keyHash: string; enrolledAt: string; keyRotatedAt?: string; enrolledBy?: string; lastContactAt?: string }>;
  /** Keyed `<box>/<tier>`. */
  streams: Record<string, StreamRecord>;
  reports: Report[];
  audit: Record<string, AuditEntry[]>;
  /** Operator accounts besides the bootstrap one, by name (absent in older documents). */
  operators?: Record<string, { tokenHash: string; createdAt: string; createdBy: string }>;
  /** What operators did, oldest first (absent in older documents). */
  activity?: OperatorActivity[];
  /** Key escrow per box: the opaque blob and every access to it (absent in older documents). */
  escrow?: Record<string, { blob: EscrowBlob | null; storedAt: string | null; accesses: EscrowAccess[] }>;
  /** One-time enrollment codes by box (absent in older documents). */
  enrollments?: Record<string, EnrollmentRecord>;
  /** In-guest controllers' credentials by box, then guest (absent in older documents). */
  guestCredentials?: Record<string, Record<string, { keyHash: string; registeredAt: string }>>;
}

interface EnrollmentRecord {
  codeHash: string;
  envelope: string;
  issuedAt: string;
  issuedBy: string;
  expiresAt: string;
  usedAt?: string;
  completedAt?: string;
  failures: number;
  failureWindowStart?: string;
  agentPublicKey?: string;
}

export { HubRefusal } from './refusal.js';

export const HUB_DATA_FILE = 'hub.json';
/** Reports kept per box; older ones are dropped. */
export const REPORTS_KEPT_PER_BOX = 500;
/**
 * Audit entries kept per box: the newest ones. The box keeps its whole log; the hub's copy is
 * the anchor for what it holds (a box's key alone cannot grow the hub's file without limit).
 */
export const AUDIT_ENTRIES_KEPT_PER_BOX = 2000;

/** Operator activity entries kept; older ones are dropped. */
export const ACTIVITY_KEPT = 10_000;

/** A new secret for a box (`fhb_`) or an operator (`fho_`): 32 random bytes, base64url. */
export function newToken(prefix: 'fhb' | 'fho'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Compares two secrets in constant time, by their sha256 (equal lengths whatever was presented). */
export function secretMatchesHash(presented: string, expectedHashHex: string): boolean {
  const actual = createHash('sha256').update(presented).digest();
  const expected = Buffer.from(expectedHashHex, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

/** The operator's view of a box's enrollment, from either backend's record. */
export function enrollmentStatusOf(
  box: string,
  record: { issuedAt: string; issuedBy: string; expiresAt: string; usedAt: string | null; completedAt: string | null; agentPublicKey: string | null },
  now: Date,
): EnrollmentStatus {
  const state = record.completedAt ? 'completed' : record.usedAt ? 'redeemed' : now.getTime() >= Date.parse(record.expiresAt) ? 'expired' : 'pending';
  return {
    box,
    state,
    issuedAt: record.issuedAt,
    issuedBy: record.issuedBy,
    expiresAt: record.expiresAt,
    redeemedAt: record.usedAt,
    completedAt: record.completedAt,
    agentPublicKey: record.agentPublicKey,
  };
}

function checkHubData(data: HubData): string | undefined {
  if (data.version !== 1) return `unknown hub data version ${String(data.version)}`;
  for (const field of ['boxes', 'streams', 'audit'] as const) {
    if (data[field] === null || typeof data[field] !== 'object') return `${field} is not an object`;
  }
  if (!Array.isArray(data.reports)) return 'reports is not an array';
  return undefined;
}

const streamKey = (box: string, tier: Tier) => `${box}/${tier}`;

/** Emits `change` with (box, tier, at) whenever a stream's spec or pending jobs change. */
export class HubDatabase extends EventEmitter<{ change: [box: string, tier: Tier, at: number] }> implements HubStore {
  readonly #store: DurableStore<HubData>;
  readonly #jobsEtag = new Map<string, string>();
  readonly #clock: () => Date;
  /** Last contact per box since start; persisted with the box's next report. */
  readonly #contact = new Map<string, string>();

  private constructor(store: DurableStore<HubData>, clock: () => Date) {
    super();
    this.setMaxListeners(0);
    this.#store = store;
    this.#clock = clock;
  }

  static async open(dataDir: string, options: { clock?: () => Date } = {}): Promise<HubDatabase> {
    const store = await DurableStore.open<HubData>(join(dataDir, HUB_DATA_FILE), () => ({ version: 1, boxes: {}, streams: {}, reports: [], audit: {} }), checkHubData);
    return new HubDatabase(store, options.clock ?? (() => new Date()));
  }

  get file(): string {
    return this.#store.file;
  }

  get location(): string {
    return this.#store.file;
  }

  onChange(listener: ChangeListener): void {
    this.on('change', listener);
  }

  async close(): Promise<void> {
    this.removeAllListeners('change');
  }

  touch(box: string): void {
    this.#contact.set(box, this.#clock().toISOString());
  }

  /** The raw document, for inspection in tests and tools. */
  get data(): Readonly<HubData> {
    return this.#store.data;
  }

  hasBox(box: string): boolean {
    return Object.hasOwn(this.#store.data.boxes, box);
  }

  boxes(): BoxSummary[] {
    return Object.entries(this.#store.data.boxes).map(([box, record]) => ({ box, enrolledAt: record.enrolledAt }));
  }

  /** Enrolls a box and returns its API key; only the key's hash is kept. */
  async enroll(box: string, by: string = BOOTSTRAP_OPERATOR): Promise<{ apiKey: string; enrolledAt: string }> {
    const apiKey = newToken('fhb');
    const enrolledAt = this.#clock().toISOString();
    await this.#store.update((data) => {
      if (Object.hasOwn(data.boxes, box)) throw new HubRefusal(409, 'EBOX_EXISTS', `box ${box} is already enrolled`);
      data.boxes[box] = { keyHash: sha256Hex(apiKey), enrolledAt, enrolledBy: by };
      this.#record(data, { at: enrolledAt, operator: by, action: 'enroll', subject: box });
    });
    return { apiKey, enrolledAt };
  }

  /**
   * Issues a new API key for an enrolled box (the old one was lost or leaked): the old key stops
   * working at once; only the new key's hash is kept.
   */
  async rotateKey(box: string, by: string = BOOTSTRAP_OPERATOR): Promise<{ apiKey: string; enrolledAt: string; keyRotatedAt: string }> {
    const apiKey = newToken('fhb');
    const keyRotatedAt = this.#clock().toISOString();
    const enrolledAt = await this.#store.update((data) => {
      const record = Object.hasOwn(data.boxes, box) ? data.boxes[box] : undefined;
      if (!record) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
      data.boxes[box] = { ...record, keyHash: sha256Hex(apiKey), keyRotatedAt };
      this.#record(data, { at: keyRotatedAt, operator: by, action: 'rotate-key', subject: box });
      return record.enrolledAt;
    });
    return { apiKey, enrolledAt, keyRotatedAt };
  }

  /** Whether `apiKey` is the key of `box` (false for unknown boxes too). */
  boxKeyMatches(box: string, apiKey: string): boolean {
    const record = Object.hasOwn(this.#store.data.boxes, box) ? this.#store.data.boxes[box] : undefined;
    // Hash something even for an unknown box, so timing does not tell which boxes exist.
    return secretMatchesHash(apiKey, record?.keyHash ?? '0'.repeat(64)) && record !== undefined;
  }

  // ---- in-guest controllers ----------------------------------------------------------------

  async registerGuestCredential(box: string, guest: string, credentialHash: string, now: Date): Promise<{ guest: string; registeredAt: string }> {
    const registeredAt = now.toISOString();
    await this.#store.update((data) => {
      const credentials = (data.guestCredentials ??= {});
      if (!Object.hasOwn(credentials, box)) credentials[box] = {};
      credentials[box]![guest] = { keyHash: credentialHash, registeredAt };
    });
    return { guest, registeredAt };
  }

  guestByCredential(box: string, token: string): string | null {
    const credentials = this.#store.data.guestCredentials ?? {};
    const guests = Object.hasOwn(credentials, box) ? credentials[box]! : {};
    // Tokens are 256 random bits: comparing each guest's hash reveals nothing about the others.
    for (const [guest, record] of Object.entries(guests)) if (secretMatchesHash(token, record.keyHash)) return guest;
    return null;
  }

  // ---- enrollment by code ------------------------------------------------------------------

  #enrollment(data: HubData, box: string): EnrollmentRecord | undefined {
    const enrollments = data.enrollments ?? {};
    return Object.hasOwn(enrollments, box) ? enrollments[box] : undefined;
  }

  async issueEnrollmentCode(box: string, request: IssueCodeRequest, by: string, now: Date): Promise<EnrollmentCodeResponse> {
    const at = now.toISOString();
    await this.#store.update((data) => {
      const record: EnrollmentRecord = { codeHash: request.codeHash, envelope: request.envelope, issuedAt: at, issuedBy: by, expiresAt: request.expiresAt.toISOString(), failures: 0 };
      const exists = Object.hasOwn(data.boxes, box);
      if (!request.regenerate) {
        if (exists) throw new HubRefusal(409, 'EBOX_EXISTS', `box ${box} is already enrolled; pass --regenerate to replace a code it has not completed enrollment with`);
        // No key works until the box redeems the code and registers its own.
        data.boxes[box] = { keyHash: sha256Hex(randomBytes(32)), enrolledAt: at, enrolledBy: by };
        (data.enrollments ??= {})[box] = record;
        this.#record(data, { at, operator: by, action: 'enroll', subject: box });
        return;
      }
      const held = this.#enrollment(data, box);
      if (!exists) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled; create its code without --regenerate`);
      if (!held) throw new HubRefusal(409, 'EENROLL_NO_CODE', `box ${box} was enrolled with an API key, not a code; rotate its key instead`);
      if (held.completedAt) throw new HubRefusal(409, 'EENROLL_COMPLETE', `box ${box} completed enrollment at ${held.completedAt}; a code can no longer be regenerated for it`);
      // A credential the box registered with the old code stops working.
      data.boxes[box] = { ...data.boxes[box]!, keyHash: sha256Hex(randomBytes(32)) };
      data.enrollments![box] = record;
      this.#record(data, { at, operator: by, action: 'regenerate-code', subject: box });
    });
    return { box, expiresAt: request.expiresAt.toISOString(), regenerated: request.regenerate };
  }

  async redeemEnrollmentCode(box: string, code: string, registration: CodeRegistration, now: Date): Promise<RedeemOutcome> {
    return this.#store.update((data): RedeemOutcome => {
      const record = this.#enrollment(data, box);
      // Hash something even without a record, so timing does not tell which boxes have codes.
      const matches = secretMatchesHash(code, record?.codeHash ?? '0'.repeat(64)) && record !== undefined;
      if (!record) return { status: 'invalid' };
      const throttle = boxThrottle(record.failures, record.failureWindowStart ? new Date(record.failureWindowStart) : null, now, MAX_CODE_FAILURES, CODE_FAILURE_WINDOW_MS);
      if (throttle.blocked > 0) return { status: 'throttled', retryAfterSeconds: throttle.blocked };
      if (!matches) {
        record.failures = throttle.next.failures;
        record.failureWindowStart = throttle.next.windowStart.toISOString();
        return { status: 'invalid' };
      }
      if (record.usedAt) return { status: 'used', usedAt: record.usedAt };
      if (now.getTime() >= Date.parse(record.expiresAt)) return { status: 'expired', expiresAt: record.expiresAt };
      record.usedAt = now.toISOString();
      record.agentPublicKey = registration.agentPublicKey;
      record.failures = 0;
      delete record.failureWindowStart;
      data.boxes[box] = { ...data.boxes[box]!, keyHash: registration.credentialHash };
      return { status: 'redeemed', envelope: record.envelope };
    });
  }

  enrollmentConfig(box: string): string | null {
    const record = this.#enrollment(this.#store.data, box);
    return record?.usedAt ? record.envelope : null;
  }

  async completeEnrollment(box: string, now: Date): Promise<{ completedAt: string }> {
    return this.#store.update((data) => {
      const record = this.#enrollment(data, box);
      if (!record?.usedAt) throw new HubRefusal(409, 'EENROLL_NOT_REDEEMED', `box ${box} has not redeemed an enrollment code`);
      record.completedAt ??= now.toISOString();
      return { completedAt: record.completedAt };
    });
  }

  enrollmentStatus(box: string, now: Date): EnrollmentStatus | null {
    const record = this.#enrollment(this.#store.data, box);
    if (!record) return null;
    return enrollmentStatusOf(box, { ...record, usedAt: record.usedAt ?? null, completedAt: record.completedAt ?? null, agentPublicKey: record.agentPublicKey ?? null }, now);
  }

  /**
   * Files an envelope by its routing header. Refuses an unknown box (404) and a serial not above
   * the last published for the (box, tier) (409): an operator convenience, not a security check.
   */
  async publish(envelopeText: string, envelopeBytes: Uint8Array, by: string = BOOTSTRAP_OPERATOR): Promise<PublishResponse> {
    const header = readRoutingHeader(envelopeText);
    if (!this.hasBox(header.box)) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${header.box} is not enrolled`);
    const stored: StoredEnvelope = {
      digest: sha256Hex(envelopeBytes),
      payloadDigest: header.payloadDigest,
      serial: header.serial,
      type: header.type,
      envelope: envelopeText,
      publishedAt: this.#clock().toISOString(),
      publishedBy: by,
    };
    const key = streamKey(header.box, header.tier);
    await this.#store.update((data) => {
      if (!Object.hasOwn(data.streams, key)) data.streams[key] = { lastSerial: 0, spec: null, jobs: [] };
      const stream = data.streams[key]!;
      if (header.serial <= stream.lastSerial) {
        throw new HubRefusal(409, 'ESERIAL_NOT_INCREASING', `serial ${header.serial} is not above ${stream.lastSerial}, the last published for ${key}`);
      }
      stream.lastSerial = header.serial;
      if (header.type === 'spec') stream.spec = stored;
      else stream.jobs.push(stored);
      this.#jobsEtag.delete(key);
      this.#record(data, { at: stored.publishedAt, operator: by, action: 'publish', subject: header.box, tier: header.tier, serial: header.serial, digest: stored.digest });
    });
    this.emit('change', header.box, header.tier, Date.now());
    return { box: header.box, tier: header.tier, type: header.type, serial: header.serial, digest: stored.digest, payloadDigest: stored.payloadDigest };
  }

  /** The highest serial published for (box, tier), spec or job; 0 when nothing was. */
  lastSerial(box: string, tier: Tier): number {
    return this.#store.data.streams[streamKey(box, tier)]?.lastSerial ?? 0;
  }

  /** The desired spec envelope for (box, tier), or null when none was published. */
  spec(box: string, tier: Tier): StoredEnvelope | null {
    return this.#stream(box, tier)?.spec ?? null;
  }

  /** The stream record, by own property only. */
  #stream(box: string, tier: Tier): StreamRecord | undefined {
    const streams = this.#store.data.streams;
    return Object.hasOwn(streams, streamKey(box, tier)) ? streams[streamKey(box, tier)] : undefined;
  }

  pendingJobs(box: string, tier: Tier): PendingJob[] {
    return (this.#stream(box, tier)?.jobs ?? []).map((job) => ({ id: job.payloadDigest, serial: job.serial, envelope: job.envelope }));
  }

  /** ETag of the pending job list: changes whenever a job is added or finished. */
  jobsEtag(box: string, tier: Tier): string {
    const key = streamKey(box, tier);
    let etag = this.#jobsEtag.get(key);
    if (etag === undefined) {
      etag = sha256Hex((this.#stream(box, tier)?.jobs ?? []).map((job) => job.digest).join(','));
      this.#jobsEtag.set(key, etag);
    }
    return etag;
  }

  /**
   * Stores a box's report; a final report for a pending job takes the job off the list. A report
   * the hub already holds for the same (box, job, outcome) — a box re-sending after a kill -9
   * between the hub's write and its answer — is not stored twice: the stored one is returned.
   */
  async addReport(box: string, request: ReportRequest): Promise<Report> {
    let report: Report = { ...request, id: randomBytes(12).toString('hex'), box, receivedAt: this.#clock().toISOString() };
    const key = streamKey(box, request.tier);
    let jobsChanged = false;
    await this.#store.update((data) => {
      const held = data.reports.find((r) => r.box === box && r.jobId === request.jobId && r.outcome === request.outcome);
      if (held) {
        report = held;
        return;
      }
      data.reports.push(report);
      const record = Object.hasOwn(data.boxes, box) ? data.boxes[box] : undefined;
      if (record) record.lastContactAt = report.receivedAt;
      const forBox = data.reports.filter((r) => r.box === box);
      if (forBox.length > REPORTS_KEPT_PER_BOX) {
        const drop = new Set(forBox.slice(0, forBox.length - REPORTS_KEPT_PER_BOX));
        data.reports = data.reports.filter((r) => !drop.has(r));
      }
      const stream = Object.hasOwn(data.streams, key) ? data.streams[key] : undefined;
      if (stream) {
        const before = stream.jobs.length;
        stream.jobs = stream.jobs.filter((job) => job.payloadDigest !== request.jobId);
        jobsChanged = stream.jobs.length !== before;
        if (jobsChanged) this.#jobsEtag.delete(key);
      }
    });
    if (jobsChanged) this.emit('change', box, request.tier, Date.now());
    return report;
  }

  /** Reports, newest first, optionally for one box. */
  reports(options: { box?: string; limit?: number } = {}): Report[] {
    const limit = options.limit ?? 100;
    const matching = options.box === undefined ? this.#store.data.reports : this.#store.data.reports.filter((r) => r.box === options.box);
    return matching.slice(-limit).reverse();
  }

  auditEntries(box: string): AuditEntry[] {
    // Own properties only: a box id such as `constructor` must not find Object.prototype's.
    return Object.hasOwn(this.#store.data.audit, box) ? this.#store.data.audit[box]! : [];
  }

  /**
   * Appends entries of a box's audit log. Entries must continue the chain the hub holds; an
   * entry the hub already holds is accepted again only unchanged (a retried upload).
   */
  async appendAudit(box: string, entries: readonly AuditEntry[]): Promise<{ accepted: number; head: { seq: number; hash: string } | null }> {
    return this.#store.update((data) => {
      if (!Object.hasOwn(data.audit, box)) data.audit[box] = [];
      const held = data.audit[box]!;
      // The hub keeps the newest entries only (AUDIT_ENTRIES_KEPT_PER_BOX): seqs start at held[0].seq.
      const firstHeld = held[0]?.seq ?? 1;
      const head = held.at(-1);
      // A retried entry sits at held[seq - firstHeld]; fresh entries are appended only when all pass.
      const fresh = newAuditEntries(box, entries, head ? { seq: head.seq, hash: head.hash } : null, (seq) => (seq < firstHeld ? null : held[seq - firstHeld]?.hash));
      held.push(...fresh);
      if (held.length > AUDIT_ENTRIES_KEPT_PER_BOX) held.splice(0, held.length - AUDIT_ENTRIES_KEPT_PER_BOX);
      const newHead = held.at(-1);
      return { accepted: fresh.length, head: newHead ? { seq: newHead.seq, hash: newHead.hash } : null };
    });
  }

  // ---- operators --------------------------------------------------------------------------

  async addOperator(name: string, by: string): Promise<{ name: string; token: string; createdAt: string }> {
    const token = newToken('fho');
    const createdAt = this.#clock().toISOString();
    await this.#store.update((data) => {
      const operators = (data.operators ??= {});
      if (name === BOOTSTRAP_OPERATOR || Object.hasOwn(operators, name)) throw new HubRefusal(409, 'EOPERATOR_EXISTS', `operator ${name} already exists`);
      operators[name] = { tokenHash: sha256Hex(token), createdAt, createdBy: by };
      this.#record(data, { at: createdAt, operator: by, action: 'add-operator', subject: name });
    });
    return { name, token, createdAt };
  }

  async removeOperator(name: string, by: string): Promise<void> {
    await this.#store.update((data) => {
      if (!data.operators || !Object.hasOwn(data.operators, name)) throw new HubRefusal(404, 'EOPERATOR_UNKNOWN', `operator ${name} does not exist`);
      delete data.operators[name];
      this.#record(data, { at: this.#clock().toISOString(), operator: by, action: 'remove-operator', subject: name });
    });
  }

  operatorByToken(token: string): string | null {
    for (const [name, record] of Object.entries(this.#store.data.operators ?? {})) {
      if (secretMatchesHash(token, record.tokenHash)) return name;
    }
    return null;
  }

  operators(): OperatorSummary[] {
    return Object.entries(this.#store.data.operators ?? {}).map(([name, record]) => ({ name, createdAt: record.createdAt, createdBy: record.createdBy }));
  }

  activity(options: { limit?: number } = {}): OperatorActivity[] {
    return (this.#store.data.activity ?? []).slice(-(options.limit ?? 100)).reverse();
  }

  #record(data: HubData, entry: OperatorActivity): void {
    const activity = (data.activity ??= []);
    activity.push(entry);
    if (activity.length > ACTIVITY_KEPT) activity.splice(0, activity.length - ACTIVITY_KEPT);
  }

  // ---- key escrow ---------------------------------------------------------------------------

  async putEscrow(box: string, blob: EscrowBlob): Promise<{ storedAt: string }> {
    const storedAt = this.#clock().toISOString();
    await this.#store.update((data) => {
      const record = this.#escrowRecord(data, box);
      record.blob = blob;
      record.storedAt = storedAt;
      this.#access(record, { at: storedAt, by: BOX_ACTOR, action: 'store', fingerprint: blob.fingerprint });
    });
    return { storedAt };
  }

  async readEscrow(box: string, by: string): Promise<EscrowResponse | null> {
    return this.#store.update((data) => {
      const held = data.escrow && Object.hasOwn(data.escrow, box) ? data.escrow[box]! : undefined;
      if (!held?.blob || !held.storedAt) return null;
      const at = this.#clock().toISOString();
      this.#access(held, { at, by, action: 'read', fingerprint: held.blob.fingerprint });
      if (by !== BOX_ACTOR) this.#record(data, { at, operator: by, action: 'escrow-read', subject: box });
      return { escrow: held.blob, storedAt: held.storedAt };
    });
  }

  async deleteEscrow(box: string): Promise<boolean> {
    return this.#store.update((data) => {
      const held = data.escrow && Object.hasOwn(data.escrow, box) ? data.escrow[box]! : undefined;
      if (!held?.blob) return false;
      this.#access(held, { at: this.#clock().toISOString(), by: BOX_ACTOR, action: 'delete', fingerprint: held.blob.fingerprint });
      held.blob = null;
      held.storedAt = null;
      return true;
    });
  }

  escrowAccesses(box: string): EscrowAccess[] {
    const escrow = this.#store.data.escrow;
    return escrow && Object.hasOwn(escrow, box) ? escrow[box]!.accesses : [];
  }

  async revokeBoxKey(box: string): Promise<void> {
    await this.#store.update((data) => {
      const record = Object.hasOwn(data.boxes, box) ? data.boxes[box] : undefined;
      if (!record) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
      data.boxes[box] = { ...record, keyHash: REVOKED_KEY_HASH, keyRotatedAt: this.#clock().toISOString() };
    });
  }

  #escrowRecord(data: HubData, box: string): { blob: EscrowBlob | null; storedAt: string | null; accesses: EscrowAccess[] } {
    const escrow = (data.escrow ??= {});
    if (!Object.hasOwn(escrow, box)) escrow[box] = { blob: null, storedAt: null, accesses: [] };
    return escrow[box]!;
  }

  #access(record: { accesses: EscrowAccess[] }, access: EscrowAccess): void {
    record.accesses.push(access);
    if (record.accesses.length > ESCROW_ACCESSES_KEPT) record.accesses.splice(0, record.accesses.length - ESCROW_ACCESSES_KEPT);
  }

  // ---- fleet view -------------------------------------------------------------------------

  fleetFacts(): BoxFacts[] {
    const data = this.#store.data;
    const tiers = new Map<string, { specSerial: number | null; pendingJobs: number; lastReport: TierFacts['lastReport']; appliedSerial: number | null }>();
    const tierOf = (key: string) => {
      let facts = tiers.get(key);
      if (!facts) tiers.set(key, (facts = { specSerial: null, pendingJobs: 0, lastReport: null, appliedSerial: null }));
      return facts;
    };
    for (const [key, stream] of Object.entries(data.streams)) {
      const facts = tierOf(key);
      facts.specSerial = stream.spec?.serial ?? null;
      facts.pendingJobs = stream.jobs.length;
    }
    for (const report of data.reports) {
      const facts = tierOf(streamKey(report.box, report.tier));
      facts.lastReport = { outcome: report.outcome, receivedAt: report.receivedAt, jobId: report.jobId, ...(report.serial !== undefined ? { serial: report.serial } : {}), ...(report.reason ? { reason: report.reason } : {}) };
      if (report.outcome === 'succeeded' && report.serial !== undefined) facts.appliedSerial = report.serial;
    }
    const byBox = new Map<string, TierFacts[]>();
    for (const [key, facts] of tiers) {
      const slash = key.lastIndexOf('/');
      const box = key.slice(0, slash);
      const list = byBox.get(box) ?? [];
      list.push({ tier: key.slice(slash + 1) as Tier, ...facts });
      byBox.set(box, list);
    }
    return Object.entries(data.boxes).map(([box, record]) => {
      const seen = [this.#contact.get(box), record.lastContactAt].filter((at): at is string => at !== undefined).sort();
      return { box, enrolledAt: record.enrolledAt, lastContactAt: seen.at(-1) ?? null, tiers: byBox.get(box) ?? [] };
    });
  }
}
