/**
 * The reference hub: a plain `node:http` server speaking hub protocol v1
 * (docs/hub-protocol.md) over a {@link HubDatabase}.
 *
 * Every refusal is a 4xx with `{ error: { code, message } }`; nothing a client sends can crash
 * it. Long polls park the response in memory and are woken by a publish for their (box, tier).
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { AuditEntry } from '../state/audit.js';
import { AUDIT_OUTCOMES } from '../state/audit.js';
import { writeFileDurably } from '../state/store.js';
import { HubDatabase, HubRefusal, sha256Hex, secretMatchesHash } from './database.js';
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
} from './protocol.js';
import { EnvelopeRoutingError } from './routing.js';
import { serveEngineMirrorFile } from './engine-mirror.js';

export const OPERATOR_TOKEN_FILE = 'operator-token';

export interface HubServerOptions {
  /** Directory of the hub's data file and generated operator token. */
  readonly dataDir: string;
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
  /** A folder of engine archives served to enrolled boxes (runner/hub/engine-mirror.ts). @default - none */
  readonly engineMirrorDir?: string;
  /** Where the hub writes one line per unexpected server error (never secrets). @default - nowhere */
  readonly log?: (line: string) => void;
}

export interface RunningHub {
  readonly url: string;
  readonly port: number;
  readonly database: HubDatabase;
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
  readonly auth: 'none' | 'operator' | 'box';
  readonly handle: (request: RequestContext) => Promise<void> | void;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Record<string, string>;
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

const AUDIT_FIELDS = new Set(['seq', 'time', 'actor', 'action', 'box', 'tier', 'envelopeDigest', 'outcome', 'reason', 'prevHash', 'hash']);
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
  /** Re-evaluates the request against current data; true when it answered. */
  readonly wake: () => boolean;
  readonly stop: () => void;
}

export async function startHub(options: HubServerOptions): Promise<RunningHub> {
  const maxBody = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const maxWait = options.maxWaitSeconds ?? MAX_WAIT_SECONDS;
  const log = options.log ?? (() => undefined);
  const database = await HubDatabase.open(options.dataDir);
  const operator = options.operatorToken ? { token: options.operatorToken, file: null } : await loadOrCreateOperatorToken(options.dataDir);
  const operatorTokenHash = sha256Hex(operator.token);

  const waiters = new Map<string, Set<Waiter>>();
  const waiterKey = (box: string, tier: Tier) => `${box}/${tier}`;
  database.on('change', (box, tier) => {
    for (const waiter of [...(waiters.get(waiterKey(box, tier)) ?? [])]) waiter.wake();
  });

  /**
   * Answers now, or parks the request until the data changes or `wait` seconds pass.
   * `answer(final)` returns false when it would answer "unchanged" and may wait instead.
   */
  function answerOrWait(ctx: RequestContext, box: string, tier: Tier, wait: number, answer: (final: boolean) => boolean): void {
    if (answer(wait === 0)) return;
    const key = waiterKey(box, tier);
    const set = waiters.get(key) ?? new Set<Waiter>();
    waiters.set(key, set);
    const finish = () => {
      clearTimeout(timer);
      set.delete(waiter);
      if (set.size === 0) waiters.delete(key);
      ctx.res.off('close', finish);
    };
    const waiter: Waiter = {
      wake: () => {
        if (!answer(false)) return false;
        finish();
        return true;
      },
      stop: () => {
        finish();
        sendError(ctx.res, 503, 'EHUB_STOPPING', 'the hub is stopping; poll again later', { 'retry-after': '5' });
      },
    };
    const timer = setTimeout(() => {
      finish();
      answer(true);
    }, wait * 1000);
    set.add(waiter);
    ctx.res.on('close', finish);
  }

  const boxParams = (ctx: RequestContext) => ({ box: ctx.params.box!, tier: parseTier(ctx.params.tier!) });

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/v1\/health$/, auth: 'none', handle: ({ res }) => sendJson(res, 200, { ok: true, protocol: PROTOCOL_VERSION }) },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes$/,
      auth: 'operator',
      handle: async ({ req, res }) => {
        const body = await readJson(req, maxBody);
        if (typeof body.box !== 'string' || !BOX_ID_PATTERN.test(body.box)) throw refusal(400, 'EBAD_REQUEST', 'box: expected a box id (lower-case letters, digits, dashes)');
        const { apiKey, enrolledAt } = await database.enroll(body.box);
        sendJson(res, 201, { box: body.box, apiKey, enrolledAt }, { 'cache-control': 'no-store' });
      },
    },
    { method: 'GET', pattern: /^\/v1\/boxes$/, auth: 'operator', handle: ({ res }) => sendJson(res, 200, { boxes: database.boxes() }) },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/key$/,
      auth: 'operator',
      handle: async ({ res, params }) => {
        const rotated = await database.rotateKey(params.box!);
        sendJson(res, 200, { box: params.box, ...rotated }, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/envelopes$/,
      auth: 'operator',
      handle: async ({ req, res }) => {
        const bytes = await readBody(req, maxBody);
        const published = await database.publish(decodeUtf8(bytes, 'the envelope'), bytes);
        sendJson(res, 201, published);
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/reports$/,
      auth: 'operator',
      handle: ({ res, url }) => {
        const box = url.searchParams.get('box') ?? undefined;
        const limitText = url.searchParams.get('limit');
        if (limitText !== null && !/^[1-9]\d{0,4}$/.test(limitText)) throw refusal(400, 'EBAD_REQUEST', 'limit: expected a whole number from 1 to 99999');
        if (box !== undefined && !database.hasBox(box)) throw refusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
        sendJson(res, 200, { reports: database.reports({ ...(box ? { box } : {}), ...(limitText ? { limit: Number(limitText) } : {}) }) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/audit$/,
      auth: 'operator',
      handle: ({ res, params }) => {
        if (!database.hasBox(params.box!)) throw refusal(404, 'EBOX_UNKNOWN', `box ${params.box} is not enrolled`);
        sendJson(res, 200, { entries: database.auditEntries(params.box!) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/tiers\/(?<tier>[^/]+)\/serial$/,
      auth: 'operator',
      handle: (ctx) => {
        const { box, tier } = boxParams(ctx);
        if (!database.hasBox(box)) throw refusal(404, 'EBOX_UNKNOWN', `box ${box} is not enrolled`);
        sendJson(ctx.res, 200, { box, tier, lastSerial: database.lastSerial(box, tier) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/tiers\/(?<tier>[^/]+)\/spec$/,
      auth: 'box',
      handle: (ctx) => {
        const { box, tier } = boxParams(ctx);
        const wait = parseWait(ctx.url, maxWait);
        const ifNoneMatch = ctx.req.headers['if-none-match'];
        answerOrWait(ctx, box, tier, wait, (final) => {
          const spec = database.spec(box, tier);
          if (spec && !etagMatches(ifNoneMatch, spec.digest)) {
            ctx.res.writeHead(200, {
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(spec.envelope),
              etag: `"${spec.digest}"`,
              [SERIAL_HEADER]: String(spec.serial),
              'cache-control': 'no-cache',
            });
            ctx.res.end(spec.envelope);
            return true;
          }
          if (!final) return false;
          if (spec) {
            ctx.res.writeHead(304, { etag: `"${spec.digest}"` });
            ctx.res.end();
          } else {
            sendError(ctx.res, 404, 'ENOT_PUBLISHED', `no spec has been published for ${box}/${tier}`);
          }
          return true;
        });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/tiers\/(?<tier>[^/]+)\/jobs$/,
      auth: 'box',
      handle: (ctx) => {
        const { box, tier } = boxParams(ctx);
        const wait = parseWait(ctx.url, maxWait);
        const ifNoneMatch = ctx.req.headers['if-none-match'];
        answerOrWait(ctx, box, tier, wait, (final) => {
          const etag = database.jobsEtag(box, tier);
          if (etagMatches(ifNoneMatch, etag)) {
            if (!final) return false;
            ctx.res.writeHead(304, { etag: `"${etag}"` });
            ctx.res.end();
            return true;
          }
          sendJson(ctx.res, 200, { jobs: database.pendingJobs(box, tier) }, { etag: `"${etag}"`, 'cache-control': 'no-cache' });
          return true;
        });
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/reports$/,
      auth: 'box',
      handle: async ({ req, res, params }) => {
        const report = await database.addReport(params.box!, parseReport(await readJson(req, maxBody)));
        sendJson(res, 201, { id: report.id });
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/boxes\/(?<box>[^/]+)\/engine\/(?<file>[^/]+)$/,
      auth: 'box',
      handle: ({ res, params }) => serveEngineMirrorFile(options.engineMirrorDir, params.file!, res),
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

  function authorize(route: Route, ctx: RequestContext): void {
    if (route.auth === 'none') return;
    const token = bearerToken(ctx.req);
    if (token === null) throw refusal(401, 'EAUTH_MISSING', 'send Authorization: Bearer <token>');
    if (route.auth === 'operator') {
      if (!secretMatchesHash(token, operatorTokenHash)) throw refusal(401, 'EAUTH_INVALID', 'the operator token is not valid');
      return;
    }
    // A box key opens only its own box's endpoints; an unknown box looks like a wrong key.
    if (!database.boxKeyMatches(ctx.params.box!, token)) throw refusal(401, 'EAUTH_INVALID', `the API key is not valid for box ${ctx.params.box}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader(PROTOCOL_HEADER, String(PROTOCOL_VERSION));
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://hub.invalid');
    } catch {
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
      const ctx: RequestContext = { req, res, url, params };
      authorize(chosen.route, ctx);
      await chosen.route.handle(ctx);
    } catch (error) {
      if (error instanceof HubRefusal) {
        // After a refused body, stop reading it and close: the client may still be sending.
        const close: Record<string, string> = error.status === 413 ? { connection: 'close' } : {};
        sendError(res, error.status, error.code, error.message, close);
        if (error.status === 413) req.resume();
      } else if (error instanceof EnvelopeRoutingError) {
        sendError(res, 400, error.code, error.message);
      } else {
        const code = (error as { code?: unknown }).code;
        log(`hub: ${req.method} ${url.pathname} failed: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
        sendError(res, 500, 'EINTERNAL', 'the hub failed to handle the request; see the hub log');
      }
    }
  }

  const server: Server = createServer({ keepAliveTimeout: 65_000, requestTimeout: (maxWait + 60) * 1000 }, (req, res) => {
    void handle(req, res);
  });
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    database,
    operatorTokenFile: operator.file,
    parkedPolls: () => [...waiters.values()].reduce((sum, set) => sum + set.size, 0),
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const set of [...waiters.values()]) for (const waiter of [...set]) waiter.stop();
      server.closeIdleConnections();
      // Give in-flight answers a moment, then cut whatever is left.
      const timer = setTimeout(() => server.closeAllConnections(), 2000);
      await closed;
      clearTimeout(timer);
    },
  };
}
