/**
 * The hub protocol, version 1 (docs/hub-protocol.md): the shapes that cross the wire between
 * a box, the operator and the hub. Every path starts with /v1/.
 *
 * The hub is untrusted for content: it stores and serves envelopes as opaque bytes and reads
 * their payload header only to route them. A box verifies every envelope it receives.
 */
import type { Tier } from '../../stacks/spec/types.js';
import type { AuditEntry, Reason } from '../state/audit.js';

export const PROTOCOL_VERSION = 1;
/** Response header naming the protocol version the hub speaks. */
export const PROTOCOL_HEADER = 'felhom-hub-protocol';
/** Response header carrying the routing serial of a served spec envelope. */
export const SERIAL_HEADER = 'felhom-serial';

/** Longest long poll the hub honours; a larger ?wait= is capped to it. */
export const MAX_WAIT_SECONDS = 60;
/** Largest request body the reference hub accepts. */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** Box ids: lower-case letters, digits and dashes, as in the box spec. */
export const BOX_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export type EnvelopeType = 'spec' | 'job';
export type ReportOutcome = 'succeeded' | 'failed' | 'rejected';
export const REPORT_OUTCOMES: readonly ReportOutcome[] = ['succeeded', 'failed', 'rejected'];

/** The error body of every 4xx/5xx answer. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** POST /v1/boxes (operator). */
export interface EnrollRequest {
  readonly box: string;
}
/** The box's API key appears in this answer only, once. */
export interface EnrollResponse {
  readonly box: string;
  readonly apiKey: string;
  readonly enrolledAt: string;
}

/**
 * POST /v1/boxes/{box}/enrollment/code (operator): a one-time retrieval code for the box. The
 * operator's tool makes the code and signs the configuration; the hub keeps the code's sha256 and
 * the envelope, and never sees the code itself.
 */
export interface EnrollmentCodeRequest {
  /** sha256 hex of the code (runner/enrollment/code.ts). */
  readonly codeHash: string;
  /** When the unused code stops working (ISO 8601, at most {@link MAX_CODE_TTL_MS} ahead). */
  readonly expiresAt: string;
  /** The signed enrollment configuration, served to the box that redeems the code. */
  readonly envelope: string;
  /** Replace the code of a box that has not completed enrollment (its half-registered credential is revoked). */
  readonly regenerate?: boolean;
}
export interface EnrollmentCodeResponse {
  readonly box: string;
  readonly expiresAt: string;
  readonly regenerated: boolean;
}

/**
 * POST /v1/boxes/{box}/enrollment (no token; the code is the credential): redeems the code once,
 * registering the public halves of what the box generated, and answers the configuration.
 */
export interface EnrollmentRedeemRequest {
  readonly code: string;
  /** sha256 hex of the hub API key the box generated: from now on its key. */
  readonly credentialHash: string;
  /** The agent's own armoured OpenPGP public key (secrets for this box are encrypted to it). */
  readonly agentPublicKey: string;
}
export interface EnrollmentConfigResponse {
  readonly box: string;
  /** The enrollment configuration envelope, as the operator signed it. */
  readonly envelope: string;
}

/** GET /v1/boxes/{box}/enrollment (operator). */
export interface EnrollmentStatus {
  readonly box: string;
  readonly state: 'pending' | 'expired' | 'redeemed' | 'completed';
  readonly issuedAt: string;
  readonly issuedBy: string;
  readonly expiresAt: string;
  readonly redeemedAt: string | null;
  readonly completedAt: string | null;
  readonly agentPublicKey: string | null;
}

/** Longest life of an unused code. */
export const MAX_CODE_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** Failed code attempts allowed per box, and per client address, in each window. */
export const MAX_CODE_FAILURES = 10;
export const CODE_FAILURE_WINDOW_MS = 15 * 60 * 1000;

export interface BoxSummary {
  readonly box: string;
  readonly enrolledAt: string;
}

/**
 * A box's state in the fleet view, worst first in GET /v1/boxes: `failing` (a tier's last
 * report failed or was rejected), `stale` (no contact for a while), `drifting` (a tier has not
 * applied its published spec), `pending` (jobs wait), `new` (never called the hub), `ok`.
 */
export type BoxState = 'failing' | 'stale' | 'drifting' | 'pending' | 'new' | 'ok';
export const BOX_STATES: readonly BoxState[] = ['failing', 'stale', 'drifting', 'pending', 'new', 'ok'];

export interface TierStatus {
  readonly tier: Tier;
  /** Serial of the published spec, or null. */
  readonly specSerial: number | null;
  /** Serial of the newest spec or job the box reported applied. */
  readonly appliedSerial: number | null;
  readonly lastOutcome: ReportOutcome | null;
  readonly lastReportAt: string | null;
  readonly pendingJobs: number;
  /** The published spec is newer than what the box last applied. */
  readonly drift: boolean;
  /** Why the last report failed or was rejected. */
  readonly reason?: Reason;
}

export interface BoxStatus extends BoxSummary {
  readonly state: BoxState;
  readonly lastContactAt: string | null;
  readonly pendingJobs: number;
  readonly tiers: readonly TierStatus[];
}

/** GET /v1/boxes (operator): the fleet view, failing boxes first. */
export interface BoxListResponse {
  readonly boxes: readonly BoxStatus[];
}

/** POST /v1/operators (the bootstrap operator): the token appears in this answer only, once. */
export interface OperatorCreated {
  readonly name: string;
  readonly token: string;
  readonly createdAt: string;
}
export interface OperatorSummary {
  readonly name: string;
  readonly createdAt: string;
  readonly createdBy: string;
}
/** One thing an operator did at the hub (GET /v1/activity). */
export interface OperatorActivity {
  readonly at: string;
  readonly operator: string;
  readonly action: 'publish' | 'enroll' | 'regenerate-code' | 'rotate-key' | 'add-operator' | 'remove-operator' | 'escrow-read';
  /** The box, or the operator added or removed. */
  readonly subject: string;
  readonly tier?: Tier;
  readonly serial?: number;
  readonly digest?: string;
}

/** POST /v1/envelopes (operator): the body is the envelope file, as is. */
export interface PublishResponse {
  readonly box: string;
  readonly tier: Tier;
  readonly type: EnvelopeType;
  readonly serial: number;
  /** sha256 hex of the envelope bytes: the ETag a box sees for this spec. */
  readonly digest: string;
  /** sha256 hex of the payload string: the envelope's identity (a job's id) in journals and reports. */
  readonly payloadDigest: string;
}

/** GET /v1/boxes/{box}/tiers/{tier}/serial (operator): what `felhom sign --serial next` builds on. */
export interface SerialResponse {
  readonly box: string;
  readonly tier: Tier;
  /** The highest serial published for (box, tier), spec or job; 0 when nothing was. */
  readonly lastSerial: number;
}

/** One pending job in GET /v1/boxes/{box}/tiers/{tier}/jobs. */
export interface PendingJob {
  /** The job id: sha256 hex of the envelope's payload string (runner/envelope payloadDigest). */
  readonly id: string;
  readonly serial: number;
  /** The envelope file exactly as the operator published it. */
  readonly envelope: string;
}
export interface JobsResponse {
  readonly jobs: readonly PendingJob[];
}

/**
 * What the engine changed, as Pulumi counts it. `replaced` came later: a report without it is
 * from an older agent, whose `updated` includes the replacements.
 */
export interface EngineSummary {
  readonly created: number;
  readonly updated: number;
  readonly replaced?: number;
  readonly deleted: number;
  readonly same: number;
}

/** POST /v1/boxes/{box}/reports (box). */
export interface ReportRequest {
  /** The job id the report is about: the envelope's payload digest. */
  readonly jobId: string;
  readonly tier: Tier;
  readonly outcome: ReportOutcome;
  readonly serial?: number;
  readonly engine?: EngineSummary;
  readonly durationMs?: number;
  /** Why the job failed or was rejected. */
  readonly reason?: Reason;
  /** The engine's first error lines when it failed (at most 5, secrets masked). */
  readonly errors?: readonly string[];
}

/** A report as the hub stores and returns it. */
export interface Report extends ReportRequest {
  readonly id: string;
  readonly box: string;
  readonly receivedAt: string;
}

export interface ReportResponse {
  readonly id: string;
}

/** GET /v1/reports (operator). */
export interface ReportListResponse {
  readonly reports: readonly Report[];
}

/** POST /v1/boxes/{box}/audit (box). */
export interface AuditUploadRequest {
  readonly entries: readonly AuditEntry[];
}
export interface AuditUploadResponse {
  /** Entries new to the hub; re-sent entries it already holds are not counted. */
  readonly accepted: number;
  /** The last entry the hub holds for the box: where the next upload continues. */
  readonly head: { readonly seq: number; readonly hash: string } | null;
}

/** GET /v1/boxes/{box}/audit (operator). */
export interface AuditListResponse {
  readonly entries: readonly AuditEntry[];
}

/** The escrow blob's format tag (runner/custody/escrow.ts). */
export const ESCROW_FORMAT = 'felhom-escrow-1';

/**
 * PUT/GET /v1/boxes/{box}/escrow (box): the box's PBS keyfile wrapped under the customer's
 * recovery code (docs/hub-protocol.md "Key escrow"). Opaque to the hub: it checks the shape,
 * stores it, serves it back, and records every access.
 */
export interface EscrowBlob {
  readonly format: typeof ESCROW_FORMAT;
  readonly box: string;
  readonly custody: 'zero-knowledge-escrow' | 'operator-managed';
  /** PBS's fingerprint of the escrowed key, colon-separated hex (not secret: PBS writes it in every manifest). */
  readonly fingerprint: string;
  readonly createdAt: string;
  readonly kdf: { readonly name: 'scrypt'; readonly n: number; readonly r: number; readonly p: number; readonly salt: string };
  readonly iv: string;
  readonly tag: string;
  readonly ciphertext: string;
  /** operator-managed only: the recovery code encrypted to each named operator key. */
  readonly operatorWraps?: readonly { readonly keyFingerprint: string; readonly message: string }[];
}

/** An escrow as the hub serves it. */
export interface EscrowResponse {
  readonly escrow: EscrowBlob;
  readonly storedAt: string;
}

/** One access to a box's escrow at the hub (GET /v1/boxes/{box}/escrow/accesses). */
export interface EscrowAccess {
  readonly at: string;
  /** `box` (the box's own key) or the operator's name. */
  readonly by: string;
  readonly action: 'store' | 'read' | 'delete';
  readonly fingerprint: string | null;
}

export interface HealthResponse {
  readonly ok: true;
  readonly protocol: number;
}
