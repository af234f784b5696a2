/**
 * The reference hub: a plain `node:http` (or `node:https`) server speaking hub protocol v1
 * (docs/hub-protocol.md) over a {@link HubStore}: the embedded lowdb document by default, or
 * PostgreSQL (hub/postgres.ts), where several replicas share one database.
 *
 * Every refusal is a 4xx with `{ error: { code, message } }`; nothing a client sends can crash
 * it. Long polls park the response in memory and are woken by a change to their (box, tier),
 * made here or, through the database's notifications, by another replica.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TIERS, type Tier } from '../stacks/spec/types.js';
import type { AuditEntry } from '../runner/state/audit.js';
import { AUDIT_OUTCOMES } from '../runner/state/audit.js';
import { writeFileDurably } from '../runner/state/store.js';
import { HubDatabase, HubRefusal, sha256Hex, secretMatchesHash } from './database.js';
import { countByState, fleetView } from './fleet.js';
import { HubMetrics, METRICS_CONTENT_TYPE } from './metrics.js';
import { isLoopbackHost, type RequestLogEntry } from './request-log.js';
import { BOOTSTRAP_OPERATOR, BOX_ACTOR, OPERATOR_NAME_PATTERN, type HubStore } from './store.js';
import {
  BOX_ID_PATTERN,
  MAX_BODY_BYTES,
  MAX_WAIT_SECONDS,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  REPORT_OUTCOMES,
  SERIAL_HEADER,
  type EngineSummary,
  type ReportRequest,
} from '../runner/hub/protocol.js';
import { EnvelopeRoutingError, readRoutingHeader } from './routing.js';
import { serveEngineMirrorFile } from './engine-mirror.js';
import { escrowBlobProblems } from '../runner/custody/escrow-blob.js';
import type { EscrowBlob } from '../runner/hub/protocol.js';
import { AttemptThrottle } from './attempt-throttle.js';
import { CODE_FAILURE_WINDOW_MS, MAX_CODE_FAILURES, MAX_CODE_TTL_MS } from '../runner/hub/protocol.js';

/** A 429 for too many failed code attempts, with the seconds to wait. */
class ThrottledRefusal extends HubRefusal {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(429, 'EENROLL_THROTTLED', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

const isHex64 = (value: unknown): value is string => typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);

export const OPERATOR_TOKEN_FILE = 'operator-token';

export interface HubServerOptions {
  /** Directory of the hub's data file and generated operator token (optional with `database` and `operatorToken`). */
  readonly dataDir?: string;
  /** A `postgres://` URL: keep the data in PostgreSQL instead of `<dataDir>/hub.json`. */
  readonly database?: string;
  /** Serve HTTPS with this certificate chain and key (PEM). */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default 127.0.0.1 */
  readonly host?: string;
  /** The operator token; when absent, read from or generated into `<dataDir>/operator-token`. */
  readonly operatorToken?: string;
  /** @default 2 MiB */
  readonly maxBodyBytes?: number;
  /** @default 60 */
  readonly maxWaitSeconds?: number;
  /** A folder of engine archives served to enrolled boxes (hub/engine-mirror.ts). @default - none */
  readonly engineMirrorDir?: string;
  /** Where the hub writes one line per unexpected server error or warning (never secrets). @default - nowhere */
  readonly log?: (line: string) => void;
  /** Called once per answered request (never with a token or a body). @default - nowhere */
  readonly requestLog?: (entry: RequestLogEntry) => void;
  /** The hub's clock for enrollment codes (expiry, guessing windows). @default - the system clock */
  readonly clock?: () => Date;
}

export interface RunningHub {
  readonly url: string;
  readonly port: number;
  readonly database: HubStore;
  readonly metrics: HubMetrics;
  /** The file holding the operator token, or null when it was given to the hub. */
  readonly operatorTokenFile: string | null;
  /** How many long polls the hub is holding right now. */
  parkedPolls(): number;
  /** Stops accepting, answers parked long polls with 503, and closes every connection. */
  close(): Promise<void>;
}

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  /** `admin`: the bootstrap operator only (operator accounts); `box-or-guest`: also an in-guest controller's credential, for the guest tier only. */
  readonly auth: 'none' | 'operator' | 'admin' | 'box' | 'box-or-guest';
  readonly handle: (request: RequestContext) => Promise<void> | void;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Record<string, string>;
  /** Who is asking, once authorized: an operator's name or a box id (for the request log), and the guest of a controller's credential. */
  readonly who: { operator?: string; box?: string; guest?: string };
}

function refusal(status: number, code: string, message: string): HubRefusal {
  return new HubRefusal(status, code, message);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } }, headers);
}

/** Whether an If-None-Match header names `etag` (quoted, weak or not, in a list, or `*`). */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((candidate) => {
    const tag = candidate.trim().replace(/^W\//, '');
    return tag === '*' || tag === `"${etag}"`;
  });
}

function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (!header) return null;
  const match = /^Bearer ([\x21-\x7e]+)$/.exec(header);
  return match ? match[1]! : '';
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw refusal(413, 'EBODY_TOO_LARGE', `the body is ${declared} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw refusal(413, 'EBODY_TOO_LARGE', `the body exceeds the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Buffer, what: string): string {
  try {
    return utf8.decode(body);
  } catch {
    throw refusal(400, 'EBAD_REQUEST', `${what} is not UTF-8 text`);
  }
}

async function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const text = decodeUtf8(await readBody(req, limit), 'the body');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw refusal(400, 'EBAD_JSON', 'the body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw refusal(400, 'EBAD_REQUEST', 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

function parseLimit(url: URL): number | undefined {
  const text = url.searchParams.get('limit');
  if (text === null) return undefined;
  if (!/^[1-9]\d{0,4}$/.test(text)) throw refusal(400, 'EBAD_REQUEST', 'limit: expected a whole number from 1 to 99999');
  return Number(text);
}

function parseWait(url: URL, cap: number): number {
  const raw = url.searchParams.get('wait');
  if (raw === null) return 0;
  if (!/^\d{1,6}$/.test(raw)) throw refusal(400, 'EBAD_REQUEST', `wait: expected whole seconds, got ${JSON.stringify(raw)}`);
  return Math.min(Number(raw), cap);
}

function parseTier(value: string): Tier {
  if (!TIERS.includes(value as Tier)) throw refusal(400, 'EBAD_REQUEST', `tier: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(value)}`);
  return value as Tier;
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isShortString = (value: unknown, max = 4096): value is string => typeof value === 'string' && value.length > 0 && value.length <= max;

/** Checks a report body field by field; the message names the first wrong field. */
export function parseReport(body: Record<string, unknown>): ReportRequest {
  const { jobId, tier, outcome, serial, engine, durationMs, reason, errors } = body;
  if (!isShortString(jobId, 128)) throw refusal(400, 'EBAD_REQUEST', 'jobId: expected a non-empty string of at most 128 characters');
  if (typeof tier !== 'string') throw refusal(400, 'EBAD_REQUEST', 'tier: expected a string');
  const parsedTier = parseTier(tier);
  if (!REPORT_OUTCOMES.includes(outcome as ReportRequest['outcome'])) throw refusal(400, 'EBAD_REQUEST', `outcome: expected one of ${REPORT_OUTCOMES.join(', ')}`);
  if (serial !== undefined && !(isCount(serial) && serial > 0)) throw refusal(400, 'EBAD_REQUEST', 'serial: expected a positive integer');
  if (durationMs !== undefined && !(typeof durationMs === 'number' && Number.isFinite(durationMs) && durationMs >= 0)) throw refusal(400, 'EBAD_REQUEST', 'durationMs: expected a non-negative number');
  let engineSummary: EngineSummary | undefined;
  if (engine !== undefined) {
    const counts = engine as Record<string, unknown>;
    if (engine === null || typeof engine !== 'object') throw refusal(400, 'EBAD_REQUEST', 'engine: expected an object');
    for (const field of ['created', 'updated', 'deleted', 'same'] as const) {
      if (!isCount(counts[field])) throw refusal(400, 'EBAD_REQUEST', `engine.${field}: expected a non-negative integer`);
    }
    // `replaced` is optional: older agents counted a replacement as an update.
    if (counts.replaced !== undefined && !isCount(counts.replaced)) throw refusal(400, 'EBAD_REQUEST', 'engine.replaced: expected a non-negative integer');
    engineSummary = {
      created: counts.created as number,
      updated: counts.updated as number,
      ...(counts.replaced !== undefined ? { replaced: counts.replaced as number } : {}),
      deleted: counts.deleted as number,
      same: counts.same as number,
    };
  }
  if (errors !== undefined && !(Array.isArray(errors) && errors.length <= 20 && errors.every((line) => isShortString(line, 1000)))) {
    throw refusal(400, 'EBAD_REQUEST', 'errors: expected at most 20 lines of at most 1000 characters');
  }
  let parsedReason: ReportRequest['reason'];
  if (reason !== undefined) {
    const r = reason as Record<string, unknown>;
    if (reason === null || typeof reason !== 'object' || !isShortString(r.code, 64) || !isShortString(r.message, MAX_MESSAGE_CHARS)) {
      throw refusal(400, 'EBAD_REQUEST', `reason: expected { code, message } strings (code at most 64, message at most ${MAX_MESSAGE_CHARS} characters)`);
    }
    const details = r.details;
    if (details !== undefined && !(Array.isArray(details) && details.length <= 50 && details.every((line) => isShortString(line, 1000)))) {
      throw refusal(400, 'EBAD_REQUEST', 'reason.details: expected at most 50 strings of at most 1000 characters');
    }
    parsedReason = { code: r.code, message: r.message, ...(details ? { details: details as string[] } : {}) };
  }
  if (outcome !== 'succeeded' && !parsedReason) throw refusal(400, 'EBAD_REQUEST', `reason: required when the outcome is ${String(outcome)}`);
  return {
    jobId,
    tier: parsedTier,
    outcome: outcome as ReportRequest['outcome'],
    ...(serial !== undefined ? { serial: serial as number } : {}),
    ...(engineSummary ? { engine: engineSummary } : {}),
    ...(durationMs !== undefined ? { durationMs: durationMs as number } : {}),
    ...(parsedReason ? { reason: parsedReason } : {}),
    ...(errors !== undefined ? { errors: errors as string[] } : {}),
  };
}

/** Longest reason message a report or audit entry may carry (the agent sends at most 500). */
const MAX_MESSAGE_CHARS = 1000;
/** Most audit entries one upload may carry; a box sends the rest in the next one. */
export const MAX_AUDIT_ENTRIES_PER_UPLOAD = 1000;

const AUDIT_FIELDS = new Set(['seq', 'time', 'actor', 'action', 'box', 'tier', 'envelopeDigest', 'outcome', 'reason', 'vmIds', 'prevHash', 'hash']);
/** Most guests one audit entry may name. */
const MAX_AUDIT_VMIDS = 64;
const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Checks an audit upload field by field, with a size limit on every field: one box key must not
 * be able to grow the hub's data with megabyte entries (the hub keeps the newest
 * AUDIT_ENTRIES_KEPT_PER_BOX per box, docs/hub-protocol.md).
 */
export function parseAuditEntries(body: Record<string, unknown>): AuditEntry[] {
  const { entries } = body;
  if (!Array.isArray(entries)) throw refusal(400, 'EBAD_REQUEST', 'entries: expected an array of audit entries');
  if (entries.length > MAX_AUDIT_ENTRIES_PER_UPLOAD) throw refusal(413, 'EAUDIT_TOO_MANY', `entries: ${entries.length} entries in one upload; send at most ${MAX_AUDIT_ENTRIES_PER_UPLOAD}`);
  entries.forEach((entry, index) => {
    const e = entry as Record<string, unknown>;
    const bad = (field: string, expected = 'missing or wrong type') => refusal(400, 'EBAD_REQUEST', `entries[${index}].${field}: ${expected}`);
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw bad('(entry)');
    const unknown = Object.keys(e).find((field) => !AUDIT_FIELDS.has(field));
    if (unknown !== undefined) throw bad(unknown.slice(0, 64), 'not a field of an audit entry');
    if (!isCount(e.seq) || e.seq === 0) throw bad('seq');
    if (!isShortString(e.time, 40)) throw bad('time', 'expected an ISO time of at most 40 characters');
    if (!isShortString(e.actor, 512)) throw bad('actor', 'expected a string of at most 512 characters');
    if (!isShortString(e.action, 64)) throw bad('action', 'expected a string of at most 64 characters');
    if (typeof e.box !== 'string' || !BOX_ID_PATTERN.test(e.box)) throw bad('box', 'expected a box id');
    if (!TIERS.includes(e.tier as Tier)) throw bad('tier', `expected one of ${TIERS.join(', ')}`);
    for (const field of ['prevHash', 'hash'] as const) if (typeof e[field] !== 'string' || !HEX64.test(e[field])) throw bad(field, 'expected 64 hex digits');
    if (!(e.envelopeDigest === null || (typeof e.envelopeDigest === 'string' && HEX64.test(e.envelopeDigest)))) throw bad('envelopeDigest', 'expected null or 64 hex digits');
    if (!AUDIT_OUTCOMES.includes(e.outcome as AuditEntry['outcome'])) throw bad('outcome');
    if (e.reason !== undefined) {
      const r = e.reason as Record<string, unknown>;
      if (r === null || typeof r !== 'object' || Object.keys(r).some((field) => field !== 'code' && field !== 'message') || !isShortString(r.code, 64) || !isShortString(r.message, MAX_MESSAGE_CHARS)) {
        throw bad('reason', `expected { code, message } (code at most 64, message at most ${MAX_MESSAGE_CHARS} characters)`);
      }
    }
    if (e.vmIds !== undefined && !(Array.isArray(e.vmIds) && e.vmIds.length > 0 && e.vmIds.length <= MAX_AUDIT_VMIDS && e.vmIds.every((id) => Number.isSafeInteger(id) && (id as number) >= 100))) {
      throw bad('vmIds', `expected 1 to ${MAX_AUDIT_VMIDS} guest ids (whole numbers >= 100)`);
    }
  });
  return entries as AuditEntry[];
}

/** Reads the operator token from `<dataDir>/operator-token`, or generates and writes it (mode 0600). */
async function loadOrCreateOperatorToken(dataDir: string): Promise<{ token: string; file: string }> {
  const file = join(dataDir, OPERATOR_TOKEN_FILE);
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token) return { token, file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = `fho_${randomBytes(32).toString('base64url')}`;
  await writeFileDurably(file, `${token}\n`, 0o600);
  return { token, file };
}

interface Waiter {
  /** Re-evaluates the request against current data (a change committed at `at`, ms). */
  readonly wake: (at?: number) => void;
  readonly stop: () => void;
}

/** Opens the store the options name: PostgreSQL for a `database` URL, else lowdb in `dataDir`. */
async function openStore(options: HubServerOptions, log: (line: string) => void): Promise<HubStore> {
  if (options.database !== undefined) {
    const { PostgresHubStore, isPostgresUrl } = await import('./postgres.js');
    if (!isPostgresUrl(options.database)) throw new HubRefusal(400, 'EUSAGE', 'database: expected a postgres:// or postgresql:// URL');
    return PostgresHubStore.open(options.database, { log });
  }
  if (options.dataDir === undefined) throw new HubRefusal(400, 'EUSAGE', 'dataDir: required without a database URL');
  return HubDatabase.open(options.dataDir, options.clock ? { clock: options.clock } : {});
}

export async function startHub(options: HubServerOptions): Promise<RunningHub> {
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxWait = options.maxWaitSeconds ?? MAX_WAIT_SECONDS;
  const log = options.log ?? (() => undefined);
  if (options.operatorToken === undefined && options.dataDir === undefined) throw new HubRefusal(400, 'EUSAGE', 'operatorToken: required without a data directory');
  const database = await openStore(options, log);
  let operator: { token: string; file: string | null };
  try {
    operator = options.operatorToken ? { token: options.operatorToken, file: null } : await loadOrCreateOperatorToken(options.dataDir!);
  } catch (error) {
    await database.close();
    throw error;
  }
  const operatorTokenHash = sha256Hex(operator.token);
  const metrics = new HubMetrics();
  const clock = options.clock ?? (() => new Date());
  const addressThrottle = new AttemptThrottle({ max: MAX_CODE_FAILURES, windowMs: CODE_FAILURE_WINDOW_MS, clock });

  const waiters = new Map<string, Set<Waiter>>();
  const waiterKey = (box: string, tier: Tier) => `${box}/${tier}`;
  database.onChange((box, tier, at) => {
    for (const waiter of [...(waiters.get(waiterKey(box, tier)) ?? [])]) waiter.wake(at);
  });
  (database as { onResync?: (listener: () => void) => void }).onResync?.(() => {
    for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.wake();
  });

  /**
   * Answers now, or parks the request until the data changes or `wait` seconds pass.
   * `answer(final)` resolves false when it would answer "unchanged" and may wait instead.
   * A parked request's answers run one at a time, so a wake and the timeout never both answer.
   */
  async function answerOrWait(ctx: RequestContext, box: string, tier: Tier, wait: number, answer: (final: boolean) => Promise<boolean>): Promise<void> {
    if (await answer(wait === 0)) return;
    if (ctx.res.destroyed) return;
    const key = waiterKey(box, tier);
    const set = waiters.get(key) ?? new Set<Waiter>();
    waiters.set(key, set);
    let done = false;
    let queued = false;
    let chain = Promise.resolve();
    const finish = () => {
      done = true;
      clearTimeout(timer);
      set.delete(waiter);
      if (set.size === 0 && waiters.get(key) === set) waiters.delete(key);
      ctx.res.off('close', finish);
    };
    const step = (final: boolean, at?: number) => {
      chain = chain.then(async () => {
        queued = false;
        if (done) return;
        try {
          if (!(await answer(final))) return;
          finish();
          if (at !== undefined) metrics.wakeLatency.observe((Date.now() - at) / 1000);
        } catch (error) {
          finish();
          answerFailure(ctx, error);
        }
      });
    };
    const waiter: Waiter = {
      wake: (at) => {
        if (done || queued) return;
        queued = true;
        step(false, at);
      },
      stop: () => {
        finish();
        sendError(ctx.res, 503, 'EHUB_STOPPING', 'the hub is stopping; poll again later', { 'retry-after': '5' });
      },
    };
    const timer = setTimeout(() => step(true), wait * 1000);
    set.add(waiter);
    ctx.res.on('close', finish);
  }

  function answerFailure(ctx: Pick<RequestContext, 'req' | 'res' | 'url'>, error: unknown): void {
    const { req, res } = ctx;
    if (error instanceof HubRefusal) {
      // After a refused body, stop reading it and close: the client may still be sending.
      const close: Record<string, string> = error.status === 413 ? { connection: 'close' } : {};
      const retry: Record<string, string> = error instanceof ThrottledRefusal ? { 'retry-after': String(error.retryAfterSeconds) } : {};
      sendError(res, error.status, error.code, error.message, { ...close, ...retry });
      if (error.status === 413) req.resume();
    } else if (error instanceof EnvelopeRoutingError) {
      sendError(res, 400, error.code, error.message);
    } else {
      const code = (error as { code?: unknown }).code;
      log(`hub: ${req.method} ${ctx.url.pathname} failed: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
      sendError(res, 500, 'EINTERNAL', 'the hub failed to handle the request; see the hub log');
    }
  }

  const boxParams = (ctx: RequestContext) => ({ box: ctx.params.box!, tier: parseTier(ctx.params.tier!) });

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/v1\/health$/, auth: 'none', handle: ({ res }) => sendJson(res, 200, { ok: true, protocol: PROTOCOL_VERSION }) },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      auth: 'none',
      handle: async ({ res }) => {
        let boxes = null;
        try {
          boxes = countByState(fleetView(await database.fleetFacts()));
        } catch (error) {
          log(`hub: /metrics could not read the fleet: ${(error as Error).message}`);
        }
        const text = metrics.render(parkedPolls(), boxes);
        res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
        res.end(text);
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes$/,
      auth: 'operator',
      handle: async ({ req, res, who }) => {
        const body = await readJson(req, maxBody);
        if (typeof body.box !== 'string' || !BOX_ID_PATTERN.test(body.box)) throw refusal(400, 'EBAD_REQUEST', 'box: expected a box id (lower-case letters, digits, dashes)');
        const { apiKey, enrolledAt } = await database.enroll(body.box, who.operator!);
        sendJson(res, 201, { box: body.box, apiKey, enrolledAt }, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/enrollment\/code$/,
      auth: 'operator',
      handle: async ({ req, res, params, who }) => {
        const box = params.box!;
        if (!BOX_ID_PATTERN.test(box)) throw refusal(400, 'EBAD_REQUEST', 'box: expected a box id (lower-case letters, digits, dashes)');
        const body = await readJson(req, maxBody);
        if (!isHex64(body.codeHash)) throw refusal(400, 'EBAD_REQUEST', 'codeHash: expected the sha256 hex of the code');
        const expiresAt = typeof body.expiresAt === 'string' ? new Date(body.expiresAt) : new Date(NaN);
        const now = clock();
        if (Number.isNaN(expiresAt.getTime()) || expiresAt.getTime() <= now.getTime() || expiresAt.getTime() > now.getTime() + MAX_CODE_TTL_MS) {
          throw refusal(400, 'EBAD_REQUEST', `expiresAt: expected an ISO 8601 instant after now and at most ${MAX_CODE_TTL_MS / 86_400_000} days ahead`);
        }
        if (!isShortString(body.envelope, maxBody)) throw refusal(400, 'EBAD_REQUEST', 'envelope: expected the signed enrollment configuration');
        // Opaque to the hub like every envelope; its routing header must at least name this box.
        const header = readRoutingHeader(body.envelope);
        if (header.box !== box || header.type !== 'spec' || header.tier !== 'host') throw refusal(400, 'EBAD_REQUEST', `envelope: expected the enrollment configuration of box ${box} (a host spec envelope), got a ${header.tier} ${header.type} for ${header.box}`);
        if (body.regenerate !== undefined && typeof body.regenerate !== 'boolean') throw refusal(400, 'EBAD_REQUEST', 'regenerate: expected true or false');
        const issued = await database.issueEnrollmentCode(box, { codeHash: body.codeHash, expiresAt, envelope: body.envelope, regenerate: body.regenerate === true }, who.operator!, now);
        sendJson(res, 201, issued, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/enrollment$/,
      auth: 'none',
      handle: async ({ req, res, params }) => {
        const box = params.box!;
        const address = req.socket.remoteAddress ?? 'unknown';
        // Checked before the code is looked at: a blocked guesser learns nothing, right or wrong.
        const blocked = addressThrottle.blockedFor(address);
        if (blocked > 0) throw new ThrottledRefusal(`too many wrong codes from this address; try again in ${blocked} s`, blocked);
        const body = await readJson(req, maxBody);
        if (!isShortString(body.code, 256)) throw refusal(400, 'EBAD_REQUEST', 'code: expected the one-time code');
        if (!isHex64(body.credentialHash)) throw refusal(400, 'EBAD_REQUEST', 'credentialHash: expected the sha256 hex of the API key the box generated');
        if (!isShortString(body.agentPublicKey, 64 * 1024) || !body.agentPublicKey.includes('-----BEGIN PGP PUBLIC KEY BLOCK-----')) {
          throw refusal(400, 'EBAD_REQUEST', "agentPublicKey: expected the agent's armoured OpenPGP public key");
        }
        const outcome = BOX_ID_PATTERN.test(box)
          ? await database.redeemEnrollmentCode(box, body.code, { credentialHash: body.credentialHash, agentPublicKey: body.agentPublicKey }, clock())
          : ({ status: 'invalid' } as const);
        switch (outcome.status) {
          case 'redeemed':
            sendJson(res, 200, { box, envelope: outcome.envelope }, { 'cache-control': 'no-store' });
            return;
          case 'invalid':
            addressThrottle.fail(address);
            throw refusal(401, 'EENROLL_CODE_INVALID', `the code is not valid for box ${box}`);
          case 'throttled':
            throw new ThrottledRefusal(`too many wrong codes for box ${box}; try again in ${outcome.retryAfterSeconds} s`, outcome.retryAfterSeconds);
          case 'used':
            throw refusal(409, 'EENROLL_CODE_USED', `the code for box ${box} was used at ${outcome.usedAt}`);
          case 'expired':
            throw refusal(410, 'EENROLL_CODE_EXPIRED', `the code for box ${box} expired unused at ${outcome.expiresAt}`);
        }
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/enrollment\/config$/,
      auth: 'box',
      handle: async ({ res, params }) => {
        const envelope = await database.enrollmentConfig(params.box!);
        if (envelope === null) throw refusal(404, 'EENROLL_NOT_REDEEMED', `box ${params.box} has not redeemed an enrollment code`);
        sendJson(res, 200, { box: params.box, envelope }, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'PUT',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/guests\/(?<guest>[^/]+)\/credential$/,
      auth: 'box',
      handle: async ({ req, res, params }) => {
        if (!BOX_ID_PATTERN.test(params.guest!)) throw refusal(400, 'EBAD_REQUEST', 'guest: expected a guest name (lower-case letters, digits, dashes)');
        const body = await readJson(req, maxBody);
        if (!isHex64(body.credentialHash)) throw refusal(400, 'EBAD_REQUEST', "credentialHash: expected the sha256 hex of the controller's API key");
        sendJson(res, 200, { box: params.box, ...(await database.registerGuestCredential(params.box!, params.guest!, body.credentialHash, clock())) });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/enrollment\/complete$/,
      auth: 'box',
      handle: async ({ res, params }) => sendJson(res, 200, { box: params.box, ...(await database.completeEnrollment(params.box!, clock())) }),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/enrollment$/,
      auth: 'operator',
      handle: async ({ res, params }) => {
        const status = await database.enrollmentStatus(params.box!, clock());
        if (status === null) throw refusal(404, 'EENROLL_NO_CODE', `box ${params.box} has no enrollment code`);
        sendJson(res, 200, status);
      },
    },
    { method: 'GET', pattern: /^\/v1\/boxes$/, auth: 'operator', handle: async ({ res }) => sendJson(res, 200, { boxes: fleetView(await database.fleetFacts()) }) },
    {
      method: 'POST',
      pattern: /^\/v1\/operators$/,
      auth: 'admin',
      handle: async ({ req, res, who }) => {
        const body = await readJson(req, maxBody);
        if (typeof body.name !== 'string' || !OPERATOR_NAME_PATTERN.test(body.name)) throw refusal(400, 'EBAD_REQUEST', 'name: expected an operator name (lower-case letters, digits, dots, dashes)');
        sendJson(res, 201, await database.addOperator(body.name, who.operator!), { 'cache-control': 'no-store' });
      },
    },
    { method: 'GET', pattern: /^\/v1\/operators$/, auth: 'operator', handle: async ({ res }) => sendJson(res, 200, { operators: await database.operators() }) },
    {
      method: 'DELETE',
      pattern: /^\/v1\/operators\/(?<name>[^/]+)$/,
      auth: 'admin',
      handle: async ({ res, params, who }) => {
        await database.removeOperator(params.name!, who.operator!);
        sendJson(res, 200, { name: params.name, removed: true });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/activity$/,
      auth: 'operator',
      handle: async ({ res, url }) => sendJson(res, 200, { activity: await database.activity({ limit: parseLimit(url) ?? 100 }) }),
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/key$/,
      auth: 'operator',
      handle: async ({ res, params, who }) => {
        const rotated = await database.rotateKey(params.box!, who.operator!);
        sendJson(res, 200, { box: params.box, ...rotated }, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/envelopes$/,
      auth: 'operator',
      handle: async ({ req, res, who }) => {
        const bytes = await readBody(req, maxBody);
        const published = await database.publish(decodeUtf8(bytes, 'the envelope'), bytes, who.operator!);
        metrics.publishes.inc({ type: published.type });
        sendJson(res, 201, published);
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/reports$/,
      auth: 'operator',
      handle: async ({ res, url }) => {
        const box = url.searchParams.get('box') ?? undefined;
        const limit = parseLimit(url);
        if (box !== undefined && !(await database.hasBox(box))) throw refusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
        sendJson(res, 200, { reports: await database.reports({ ...(box ? { box } : {}), ...(limit ? { limit } : {}) }) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/audit$/,
      auth: 'operator',
      handle: async ({ res, params }) => {
        if (!(await database.hasBox(params.box!))) throw refusal(404, 'EBOX_UNKNOWN', `box ${params.box} is not enrolled`);
        sendJson(res, 200, { entries: await database.auditEntries(params.box!) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/tiers\/(?<tier>[^/]+)\/serial$/,
      auth: 'operator',
      handle: async (ctx) => {
        const { box, tier } = boxParams(ctx);
        if (!(await database.hasBox(box))) throw refusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
        sendJson(ctx.res, 200, { box, tier, lastSerial: await database.lastSerial(box, tier) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/tiers\/(?<tier>[^/]+)\/spec$/,
      auth: 'box-or-guest',
      handle: async (ctx) => {
        const { box, tier } = boxParams(ctx);
        const wait = parseWait(ctx.url, maxWait);
        const ifNoneMatch = ctx.req.headers['if-none-match'];
        await answerOrWait(ctx, box, tier, wait, async (final) => {
          const spec = await database.spec(box, tier);
          if (spec && !etagMatches(ifNoneMatch, spec.digest)) {
            ctx.res.writeHead(200, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(spec.envelope),
              etag: `"${spec.digest}"`,
              [SERIAL_HEADER]: String(spec.serial),
              'cache-control': 'no-cache',
            });
            ctx.res.end(spec.envelope);
            metrics.polls.inc({ kind: 'spec', status: '200' });
            return true;
          }
          if (!final) return false;
          if (spec) {
            ctx.res.writeHead(304, { etag: `"${spec.digest}"` });
            ctx.res.end();
          } else {
            sendError(ctx.res, 404, 'ENOT_PUBLISHED', `no spec has been published for ${box}/${tier}`);
          }
          metrics.polls.inc({ kind: 'spec', status: spec ? '304' : '404' });
          return true;
        });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/tiers\/(?<tier>[^/]+)\/jobs$/,
      auth: 'box-or-guest',
      handle: async (ctx) => {
        const { box, tier } = boxParams(ctx);
        const wait = parseWait(ctx.url, maxWait);
        const ifNoneMatch = ctx.req.headers['if-none-match'];
        await answerOrWait(ctx, box, tier, wait, async (final) => {
          const etag = await database.jobsEtag(box, tier);
          if (etagMatches(ifNoneMatch, etag)) {
            if (!final) return false;
            ctx.res.writeHead(304, { etag: `"${etag}"` });
            ctx.res.end();
            metrics.polls.inc({ kind: 'jobs', status: '304' });
            return true;
          }
          const jobs = await database.pendingJobs(box, tier);
          sendJson(ctx.res, 200, { jobs }, { etag: `"${sha256Hex(jobs.map((job) => sha256Hex(job.envelope)).join(','))}"`, 'cache-control': 'no-cache' });
          metrics.polls.inc({ kind: 'jobs', status: '200' });
          return true;
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/reports$/,
      auth: 'box-or-guest',
      handle: async ({ req, res, params, who }) => {
        const request = parseReport(await readJson(req, maxBody));
        if (who.guest !== undefined && request.tier !== 'guest') throw refusal(403, 'EAUTH_FORBIDDEN', `the controller credential of guest ${who.guest} reports for the guest tier only`);
        const report = await database.addReport(params.box!, request);
        metrics.reports.inc({ outcome: report.outcome });
        sendJson(res, 201, { id: report.id });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/engine\/(?<file>[^/]+)$/,
      auth: 'box',
      handle: ({ res, params }) => serveEngineMirrorFile(options.engineMirrorDir, params.file!, res),
    },
    // ---- key escrow (docs/hub-protocol.md "Key escrow"): opaque blobs, every access kept ----
    {
      method: 'PUT',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/escrow$/,
      auth: 'box',
      handle: async ({ req, res, params }) => {
        const body = await readJson(req, maxBody);
        const problems = escrowBlobProblems(body);
        if (problems.length > 0) throw refusal(400, 'EESCROW_INVALID', `not an escrow blob: ${problems.slice(0, 5).join('; ')}`);
        if (body.box !== params.box) throw refusal(400, 'EESCROW_INVALID', `the blob is for box ${String(body.box)}, not ${params.box}`);
        sendJson(res, 201, await database.putEscrow(params.box!, body as unknown as EscrowBlob));
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/escrow$/,
      auth: 'box',
      handle: async ({ res, params }) => {
        const held = await database.readEscrow(params.box!, BOX_ACTOR);
        if (!held) throw refusal(404, 'ENO_ESCROW', `the hub holds no escrow for box ${params.box}`);
        sendJson(res, 200, held, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/escrow$/,
      auth: 'box',
      handle: async ({ res, params }) => sendJson(res, 200, { box: params.box, deleted: await database.deleteEscrow(params.box!) }),
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/escrow\/accesses$/,
      auth: 'box',
      handle: async ({ res, params }) => sendJson(res, 200, { accesses: await database.escrowAccesses(params.box!) }),
    },
    {
      // An operator reads an escrow only under operator-managed custody; the read is kept as an
      // access the box lists into the customer's audit log, and as operator activity.
      method: 'GET',
      pattern: /^\/v1\/escrow\/(?<box>[^/]+)$/,
      auth: 'operator',
      handle: async ({ res, params, who }) => {
        const box = params.box!;
        if (!BOX_ID_PATTERN.test(box) || !(await database.hasBox(box))) throw refusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
        const held = await database.readEscrow(box, who.operator!);
        if (!held) throw refusal(404, 'ENO_ESCROW', `the hub holds no escrow for box ${box}`);
        if (held.escrow.custody !== 'operator-managed') throw refusal(403, 'EESCROW_ZERO_KNOWLEDGE', `box ${box}'s key custody is ${held.escrow.custody}: its escrow is for the box and its customer only`);
        sendJson(res, 200, held, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/key$/,
      auth: 'box',
      handle: async ({ res, params }) => {
        await database.revokeBoxKey(params.box!);
        sendJson(res, 200, { box: params.box, revoked: true });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/audit$/,
      auth: 'box',
      handle: async ({ req, res, params }) => {
        const result = await database.appendAudit(params.box!, parseAuditEntries(await readJson(req, maxBody)));
        sendJson(res, 201, result);
      },
    },
  ];

  async function authorize(route: Route, ctx: RequestContext): Promise<void> {
    if (route.auth === 'none') return;
    const token = bearerToken(ctx.req);
    if (token === null) throw refusal(401, 'EAUTH_MISSING', 'send Authorization: Bearer <token>');
    if (route.auth === 'operator' || route.auth === 'admin') {
      const name = secretMatchesHash(token, operatorTokenHash) ? BOOTSTRAP_OPERATOR : token ? await database.operatorByToken(token) : null;
      if (name === null) throw refusal(401, 'EAUTH_INVALID', 'the operator token is not valid');
      ctx.who.operator = name;
      if (route.auth === 'admin' && name !== BOOTSTRAP_OPERATOR) throw refusal(403, 'EAUTH_FORBIDDEN', `operator ${name} may not manage operator accounts; the hub's bootstrap token may`);
      return;
    }
    // A box key opens only its own box's endpoints; an unknown box looks like a wrong key.
    if (!(await database.boxKeyMatches(ctx.params.box!, token))) {
      // A controller's credential opens its box's guest tier, and nothing else.
      const guest = route.auth === 'box-or-guest' && token ? await database.guestByCredential(ctx.params.box!, token) : null;
      if (guest === null) throw refusal(401, 'EAUTH_INVALID', `the API key is not valid for box ${ctx.params.box}`);
      if (ctx.params.tier !== undefined && ctx.params.tier !== 'guest') throw refusal(403, 'EAUTH_FORBIDDEN', `the controller credential of guest ${guest} opens the guest tier only, not ${ctx.params.tier}`);
      ctx.who.box = ctx.params.box!;
      ctx.who.guest = guest;
      return;
    }
    ctx.who.box = ctx.params.box!;
    await database.touch(ctx.params.box!);
  }

  function parkedPolls(): number {
    return [...waiters.values()].reduce((sum, set) => sum + set.size, 0);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
    const started = performance.now();
    const who: RequestContext['who'] = {};
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://hub.invalid');
    } catch {
      url = new URL('http://hub.invalid/(invalid)');
    }
    res.once('close', () => {
      metrics.requests.inc({ code: String(res.statusCode) });
      const entry: RequestLogEntry = {
        time: new Date().toISOString(),
        method: req.method ?? '',
        path: url.pathname,
        status: res.headersSent ? res.statusCode : 0,
        ms: Math.round(performance.now() - started),
        ...(who.operator ? { operator: who.operator } : {}),
        ...(who.box ? { box: who.box } : {}),
        ...(res.writableFinished ? {} : { aborted: true }),
      };
      options.requestLog?.(entry);
    });
    if (url.pathname === '/(invalid)') {
      sendError(res, 400, 'EBAD_REQUEST', 'the request target is not a valid URL');
      return;
    }
    const matching = routes.map((route) => ({ route, match: route.pattern.exec(url.pathname) })).filter((m) => m.match);
    const chosen = matching.find((m) => m.route.method === req.method);
    try {
      if (!chosen) {
        if (matching.length > 0) {
          throw refusal(405, 'EMETHOD', `${req.method} is not allowed on ${url.pathname}; use ${[...new Set(matching.map((m) => m.route.method))].join(', ')}`);
        }
        throw refusal(404, 'ENOT_FOUND', `no endpoint ${url.pathname}${url.pathname.startsWith('/v1/') ? '' : ' (paths start with /v1/)'}`);
      }
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(chosen.match!.groups ?? {})) {
        try {
          params[name] = decodeURIComponent(value);
        } catch {
          throw refusal(400, 'EBAD_REQUEST', `${name}: not a valid path segment`);
        }
      }
      const ctx: RequestContext = { req, res, url, params, who };
      await authorize(chosen.route, ctx);
      await chosen.route.handle(ctx);
    } catch (error) {
      answerFailure({ req, res, url }, error);
    }
  }

  const serverOptions = { keepAliveTimeout: 65_000, requestTimeout: (maxWait + 60) * 1000 };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res);
  };
  const server: Server = options.tls ? createTlsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, onRequest) : createServer(serverOptions, onRequest);
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await database.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  if (!options.tls && !isLoopbackHost(address.address)) {
    log(`hub: WARNING: serving plain HTTP on ${address.address}, a non-loopback address: tokens and API keys cross the network unencrypted; pass --tls-cert and --tls-key, or put a TLS proxy in front and listen on 127.0.0.1`);
  }

  return {
    url: `${options.tls ? 'https' : 'http'}://${host}:${address.port}`,
    port: address.port,
    database,
    metrics,
    operatorTokenFile: operator.file,
    parkedPolls,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.stop();
      server.closeIdleConnections();
      // Give in-flight answers a moment, then cut whatever is left.
      const timer = setTimeout(() => server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(timer);
      await database.close();
    },
  };
}
