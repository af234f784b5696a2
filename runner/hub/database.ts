/**
 * The reference hub's records: enrolled boxes (key hashes only), the desired spec envelope and
 * pending job envelopes per (box, tier), reports, and each box's uploaded audit log, in one
 * durable lowdb document (runner/state/store.ts).
 *
 * Reads never touch the disk: lowdb keeps the document in memory, and ETags are computed at
 * write time, so a box polling an unchanged spec costs a hash lookup.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import type { Tier } from '../../stacks/spec/types.js';
import { auditEntryHash, type AuditEntry } from '../state/audit.js';
import { DurableStore } from '../state/store.js';
import type { BoxSummary, EnvelopeType, PendingJob, PublishResponse, Report, ReportRequest } from './protocol.js';
import { readRoutingHeader } from './routing.js';

export interface StoredEnvelope {
  /** sha256 hex of the envelope bytes: the ETag. */
  readonly digest: string;
  /** sha256 hex of the payload: the job id boxes journal and report. */
  readonly payloadDigest: string;
  readonly serial: number;
  readonly type: EnvelopeType;
  readonly envelope: string;
  readonly publishedAt: string;
}

interface StreamRecord {
  /** Highest serial published for this (box, tier), spec or job. */
  lastSerial: number;
  spec: StoredEnvelope | null;
  /** Jobs published and not yet reported as finished. */
  jobs: StoredEnvelope[];
}

export interface HubData {
  version: 1;
  boxes: Record<string, { keyHash: string; enrolledAt: string; keyRotatedAt?: string }>;
  /** Keyed `<box>/<tier>`. */
  streams: Record<string, StreamRecord>;
  reports: Report[];
  audit: Record<string, AuditEntry[]>;
}

/** A refusal the server turns into a 4xx answer. */
export class HubRefusal extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'HubRefusal';
    this.status = status;
    this.code = code;
  }
}

export const HUB_DATA_FILE = 'hub.json';
/** Reports kept per box; older ones are dropped. */
export const REPORTS_KEPT_PER_BOX = 500;
/**
 * Audit entries kept per box: the newest ones. The box keeps its whole log; the hub's copy is
 * the anchor for what it holds (a box's key alone cannot grow the hub's file without limit).
 */
export const AUDIT_ENTRIES_KEPT_PER_BOX = 2000;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Compares two secrets in constant time, by their sha256 (equal lengths whatever was presented). */
export function secretMatchesHash(presented: string, expectedHashHex: string): boolean {
  const actual = createHash('sha256').update(presented).digest();
  const expected = Buffer.from(expectedHashHex, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
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

/** Emits `change` with (box, tier) whenever a stream's spec or pending jobs change. */
export class HubDatabase extends EventEmitter<{ change: [box: string, tier: Tier] }> {
  readonly #store: DurableStore<HubData>;
  readonly #jobsEtag = new Map<string, string>();
  readonly #clock: () => Date;

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
  async enroll(box: string): Promise<{ apiKey: string; enrolledAt: string }> {
    const apiKey = `fhb_${randomBytes(32).toString('base64url')}`;
    const enrolledAt = this.#clock().toISOString();
    await this.#store.update((data) => {
      if (Object.hasOwn(data.boxes, box)) throw new HubRefusal(409, 'EBOX_EXISTS', `box ${box} is already enrolled`);
      data.boxes[box] = { keyHash: sha256Hex(apiKey), enrolledAt };
    });
    return { apiKey, enrolledAt };
  }

  /**
   * Issues a new API key for an enrolled box (the old one was lost or leaked): the old key stops
   * working at once; only the new key's hash is kept.
   */
  async rotateKey(box: string): Promise<{ apiKey: string; enrolledAt: string; keyRotatedAt: string }> {
    const apiKey = `fhb_${randomBytes(32).toString('base64url')}`;
    const keyRotatedAt = this.#clock().toISOString();
    const enrolledAt = await this.#store.update((data) => {
      const record = Object.hasOwn(data.boxes, box) ? data.boxes[box] : undefined;
      if (!record) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
      data.boxes[box] = { ...record, keyHash: sha256Hex(apiKey), keyRotatedAt };
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

  /**
   * Files an envelope by its routing header. Refuses an unknown box (404) and a serial not above
   * the last published for the (box, tier) (409): an operator convenience, not a security check.
   */
  async publish(envelopeText: string, envelopeBytes: Uint8Array): Promise<PublishResponse> {
    const header = readRoutingHeader(envelopeText);
    if (!this.hasBox(header.box)) throw new HubRefusal(404, 'EBOX_UNKNOWN', `box ${header.box} is not enrolled`);
    const stored: StoredEnvelope = {
      digest: sha256Hex(envelopeBytes),
      payloadDigest: header.payloadDigest,
      serial: header.serial,
      type: header.type,
      envelope: envelopeText,
      publishedAt: this.#clock().toISOString(),
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
    });
    this.emit('change', header.box, header.tier);
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
    if (jobsChanged) this.emit('change', box, request.tier);
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
      const fresh: AuditEntry[] = [];
      for (const entry of entries) {
        const last = fresh.at(-1) ?? held.at(-1);
        if (entry.box !== box) throw new HubRefusal(400, 'EAUDIT_INVALID', `entry seq ${entry.seq} names box ${entry.box}, not ${box}`);
        if (auditEntryHash(entry) !== entry.hash) throw new HubRefusal(400, 'EAUDIT_INVALID', `entry seq ${entry.seq}: its hash does not match its content`);
        if (entry.seq <= (last?.seq ?? 0)) {
          // Older than what the hub still keeps: nothing to compare it with.
          if (entry.seq < firstHeld) continue;
          const existing = entry.seq - firstHeld < held.length ? held[entry.seq - firstHeld] : fresh[entry.seq - firstHeld - held.length];
          if (existing?.hash !== entry.hash) throw new HubRefusal(409, 'EAUDIT_CONFLICT', `entry seq ${entry.seq} differs from the one the hub already holds`);
          continue;
        }
        const expectedPrev = last?.hash ?? '0'.repeat(64);
        if (entry.seq !== (last?.seq ?? 0) + 1 || entry.prevHash !== expectedPrev) {
          throw new HubRefusal(409, 'EAUDIT_GAP', `entry seq ${entry.seq} does not continue the hub's chain (at seq ${last?.seq ?? 0})`);
        }
        fresh.push(entry);
      }
      held.push(...fresh);
      if (held.length > AUDIT_ENTRIES_KEPT_PER_BOX) held.splice(0, held.length - AUDIT_ENTRIES_KEPT_PER_BOX);
      const head = held.at(-1);
      return { accepted: fresh.length, head: head ? { seq: head.seq, hash: head.hash } : null };
    });
  }
}
