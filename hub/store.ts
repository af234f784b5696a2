/**
 * What the hub server needs from its storage, whichever backend holds it: the embedded lowdb
 * document (hub/database.ts, one machine) or PostgreSQL (hub/postgres.ts, a fleet
 * and several replicas).
 *
 * Reads may answer synchronously (lowdb keeps its document in memory) or with a promise
 * (PostgreSQL); the server awaits both. Every write is one transaction: it happens completely or
 * not at all, and a retried write after a lost answer does not double anything.
 */
import type { Tier } from '../stacks/spec/types.js';
import { auditEntryHash, GENESIS_HASH, type AuditEntry } from '../runner/state/audit.js';
import type { EnrollmentCodeResponse, EnrollmentStatus, EscrowAccess, EscrowBlob, EscrowResponse, OperatorActivity, OperatorSummary, PendingJob, PublishResponse, Report, ReportRequest } from '../runner/hub/protocol.js';
import { HubRefusal } from './refusal.js';

export type Awaitable<T> = T | Promise<T>;

export interface StoredEnvelope {
  /** sha256 hex of the envelope bytes: the ETag. */
  readonly digest: string;
  /** sha256 hex of the payload: the job id boxes journal and report. */
  readonly payloadDigest: string;
  readonly serial: number;
  readonly type: 'spec' | 'job';
  readonly envelope: string;
  readonly publishedAt: string;
  /** The operator who published it (absent in data written before operators had names). */
  readonly publishedBy?: string;
}

/** A change to a stream's spec or pending jobs; `at` is when it was committed (ms since the epoch). */
export type ChangeListener = (box: string, tier: Tier, at: number) => void;

/** What the fleet view is computed from, per box (hub/fleet.ts). */
export interface BoxFacts {
  readonly box: string;
  readonly enrolledAt: string;
  readonly lastContactAt: string | null;
  readonly tiers: readonly TierFacts[];
}

export interface TierFacts {
  readonly tier: Tier;
  /** Serial of the desired spec, or null when none was published. */
  readonly specSerial: number | null;
  readonly pendingJobs: number;
  /** The newest report for the tier. */
  readonly lastReport: Pick<Report, 'outcome' | 'serial' | 'receivedAt' | 'jobId' | 'reason'> | null;
  /** Serial of the newest succeeded report that named one. */
  readonly appliedSerial: number | null;
}

export interface HubStore {
  /** Where the data lives, for the start-up line: a file, or the database URL without its password. */
  readonly location: string;

  hasBox(box: string): Awaitable<boolean>;
  enroll(box: string, by: string): Promise<{ apiKey: string; enrolledAt: string }>;
  rotateKey(box: string, by: string): Promise<{ apiKey: string; enrolledAt: string; keyRotatedAt: string }>;
  /** Whether `apiKey` is the key of `box` (false for unknown boxes too). */
  boxKeyMatches(box: string, apiKey: string): Awaitable<boolean>;
  /**
   * Registers (or replaces) the hub credential of the in-guest controller of `guest` on `box`, by its
   * sha256: it opens the box's guest tier only (spec, jobs, reports), never the host or edge tier.
   */
  registerGuestCredential(box: string, guest: string, credentialHash: string, now: Date): Promise<{ guest: string; registeredAt: string }>;
  /** The guest whose controller credential `token` is on `box`, or null. */
  guestByCredential(box: string, token: string): Awaitable<string | null>;
  /** Notes that `box` called the hub with its key; a backend may keep this coarse (per minute). */
  touch(box: string): Awaitable<void>;

  /**
   * Creates the box record with a one-time code (or, with `regenerate`, replaces the code of a box
   * that has not completed enrollment, revoking any credential it half-registered).
   */
  issueEnrollmentCode(box: string, request: IssueCodeRequest, by: string, now: Date): Promise<EnrollmentCodeResponse>;
  /**
   * Redeems `code` for `box` once: on a match, burns it, registers the box's credential hash and
   * agent key, and returns the configuration. Failures are counted per box (one transaction).
   */
  redeemEnrollmentCode(box: string, code: string, registration: CodeRegistration, now: Date): Promise<RedeemOutcome>;
  /** The configuration of a box whose code was redeemed (null otherwise). */
  enrollmentConfig(box: string): Awaitable<string | null>;
  /** The box says its state is written: the code can no longer be regenerated. */
  completeEnrollment(box: string, now: Date): Promise<{ completedAt: string }>;
  enrollmentStatus(box: string, now: Date): Awaitable<EnrollmentStatus | null>;

  publish(envelopeText: string, envelopeBytes: Uint8Array, by: string): Promise<PublishResponse>;
  spec(box: string, tier: Tier): Awaitable<StoredEnvelope | null>;
  /** The highest serial published for the box and tier (specs and jobs), 0 before the first. */
  lastSerial(box: string, tier: Tier): Awaitable<number>;
  pendingJobs(box: string, tier: Tier): Awaitable<PendingJob[]>;
  /** ETag of the pending job list: changes whenever a job is added or finished. */
  jobsEtag(box: string, tier: Tier): Awaitable<string>;

  addReport(box: string, request: ReportRequest): Promise<Report>;
  reports(options?: { box?: string; limit?: number }): Awaitable<Report[]>;
  auditEntries(box: string): Awaitable<AuditEntry[]>;
  appendAudit(box: string, entries: readonly AuditEntry[]): Promise<{ accepted: number; head: { seq: number; hash: string } | null }>;

  /** Adds an operator account; the token is returned once and only its hash is kept. */
  addOperator(name: string, by: string): Promise<{ name: string; token: string; createdAt: string }>;
  removeOperator(name: string, by: string): Promise<void>;
  /** The name of the operator holding `token`, or null. */
  operatorByToken(token: string): Awaitable<string | null>;
  operators(): Awaitable<OperatorSummary[]>;
  /** Who published, enrolled, rotated and added what, newest first. */
  activity(options?: { limit?: number }): Awaitable<OperatorActivity[]>;

  fleetFacts(): Awaitable<BoxFacts[]>;

  /**
   * Key escrow (docs/hub-protocol.md "Key escrow"): one opaque blob per box, replaced by a newer
   * upload. Every store, read and delete is kept as an access the box can list; a read by an
   * operator is also operator activity. `by` is `box` or the operator's name.
   */
  putEscrow(box: string, blob: EscrowBlob): Promise<{ storedAt: string }>;
  /** The box's escrow, recording the read; null when none is held. */
  readEscrow(box: string, by: string): Promise<EscrowResponse | null>;
  /** Deletes the box's escrow; false when none was held. */
  deleteEscrow(box: string): Promise<boolean>;
  escrowAccesses(box: string): Awaitable<EscrowAccess[]>;
  /** The box gives up its own API key (decommission): it stops working at once, for good. */
  revokeBoxKey(box: string): Promise<void>;

  /** Calls `listener` after a change to a stream's spec or jobs, made here or by another replica. */
  onChange(listener: ChangeListener): void;
  close(): Promise<void>;
}

/** What a revoked box key's hash is replaced with: not hex, so no presented key can match it. */
export const REVOKED_KEY_HASH = 'revoked';

/** The actor of an escrow access made with the box's own key. */
export const BOX_ACTOR = 'box';

/** Escrow accesses kept per box; older ones are dropped. */
export const ESCROW_ACCESSES_KEPT = 1000;

export interface IssueCodeRequest {
  readonly codeHash: string;
  readonly expiresAt: Date;
  readonly envelope: string;
  readonly regenerate: boolean;
}

export interface CodeRegistration {
  readonly credentialHash: string;
  readonly agentPublicKey: string;
}

export type RedeemOutcome =
  | { readonly status: 'redeemed'; readonly envelope: string }
  /** No such box, no code, or not this code: counted against the box. */
  | { readonly status: 'invalid' }
  | { readonly status: 'throttled'; readonly retryAfterSeconds: number }
  | { readonly status: 'used'; readonly usedAt: string }
  | { readonly status: 'expired'; readonly expiresAt: string };

/** Per-box guess counting: a fixed window opened by the first failure. */
export function boxThrottle(failures: number, windowStart: Date | null, now: Date, max: number, windowMs: number): { blocked: number; next: { failures: number; windowStart: Date } } {
  const open = windowStart !== null && now.getTime() - windowStart.getTime() < windowMs;
  const blocked = open && failures >= max ? Math.ceil((windowStart!.getTime() + windowMs - now.getTime()) / 1000) : 0;
  return { blocked, next: open ? { failures: failures + 1, windowStart: windowStart! } : { failures: 1, windowStart: now } };
}

/** The operator whose token the hub was started with (flag, environment or token file). */
export const BOOTSTRAP_OPERATOR = 'admin';

/** Operator names: like box ids, lower-case letters, digits, dots and dashes. */
export const OPERATOR_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$/;

/**
 * The entries of an audit upload that are new to the hub. They must continue the chain the hub
 * holds (`head`); an entry the hub already holds is accepted again only unchanged (a retried
 * upload). `heldHash(seq)` is the hash the hub holds for an earlier seq, or null for one older
 * than the hub still keeps (nothing to compare it with).
 */
export function newAuditEntries(box: string, entries: readonly AuditEntry[], head: { seq: number; hash: string } | null, heldHash: (seq: number) => string | null | undefined): AuditEntry[] {
  const fresh: AuditEntry[] = [];
  for (const entry of entries) {
    const last = fresh.at(-1) ?? head;
    if (entry.box !== box) throw new HubRefusal(400, 'EAUDIT_INVALID', `entry seq ${entry.seq} names box ${entry.box}, not ${box}`);
    if (auditEntryHash(entry) !== entry.hash) throw new HubRefusal(400, 'EAUDIT_INVALID', `entry seq ${entry.seq}: its hash does not match its content`);
    if (entry.seq <= (last?.seq ?? 0)) {
      const heldAt = heldHash(entry.seq);
      if (heldAt !== null && heldAt !== entry.hash) throw new HubRefusal(409, 'EAUDIT_CONFLICT', `entry seq ${entry.seq} differs from the one the hub already holds`);
      continue;
    }
    if (entry.seq !== (last?.seq ?? 0) + 1 || entry.prevHash !== (last?.hash ?? GENESIS_HASH)) {
      throw new HubRefusal(409, 'EAUDIT_GAP', `entry seq ${entry.seq} does not continue the hub's chain (at seq ${last?.seq ?? 0})`);
    }
    fresh.push(entry);
  }
  return fresh;
}
