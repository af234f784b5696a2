/**
 * A typed client for hub protocol v1 (docs/hub-protocol.md), on Node's global fetch.
 *
 * Errors say how to handle them: {@link HubUnavailableError} and {@link HubProtocolError} are
 * `waiting` (retry later with {@link Backoff}); {@link HubAuthError} is `stalled` (a person
 * must fix the key); {@link HubRequestError} is the hub refusing this request (`stalled`).
 */
import { isPlainObject } from '../../templates/lib/problems.js';
import type { Tier } from '../../stacks/spec/types.js';
import type { AuditEntry } from '../state/audit.js';
import type {
  AuditListResponse,
  AuditUploadResponse,
  BoxListResponse,
  EnrollResponse,
  EscrowAccess,
  EscrowBlob,
  EscrowResponse,
  EnrollmentCodeRequest,
  EnrollmentCodeResponse,
  EnrollmentConfigResponse,
  EnrollmentRedeemRequest,
  EnrollmentStatus,
  HealthResponse,
  JobsResponse,
  OperatorActivity,
  OperatorCreated,
  OperatorSummary,
  PendingJob,
  PublishResponse,
  Report,
  ReportListResponse,
  ReportRequest,
  ReportResponse,
} from './protocol.js';
import { SERIAL_HEADER } from './protocol.js';
import { DEFAULT_MAX_ENVELOPE_BYTES } from '../envelope/format.js';
import { FelhomError, type ErrorFault } from '../../lib/errors.js';

/** Largest answer read from the hub (a job list, a report list); a larger one is cut off while it streams. */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export type HubErrorKind = 'waiting' | 'stalled';

/** The base of every error the hub client throws. */
export class HubError extends FelhomError {
  declare readonly kind: HubErrorKind;
  /** The HTTP status, when the hub answered. */
  readonly status: number | undefined;
  /** `fault`: the hub's refusals are the input's, an unreachable or unusable hub the environment's. */
  constructor(code: string, kind: HubErrorKind, message: string, options: { status?: number; fault: ErrorFault; cause?: unknown }) {
    super(code, kind, message, { cause: options.cause, fault: options.fault });
    this.status = options.status;
  }
}

/** The hub could not be reached, timed out, or failed (5xx): retry later. */
export class HubUnavailableError extends HubError {
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super('EHUB_UNAVAILABLE', 'waiting', message, { ...options, fault: 'environment' });
  }
}

/** The hub answered something this client does not understand: retry later, and record it. */
export class HubProtocolError extends HubError {
  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super('EHUB_PROTOCOL', 'waiting', message, { ...options, fault: 'environment' });
  }
}

/** The hub refused the credentials (401/403): stalled until a person fixes the key or token. */
export class HubAuthError extends HubError {
  /** The hub's own reason code, for example EAUTH_INVALID. */
  readonly hubCode: string;
  constructor(message: string, options: { status: number; hubCode: string }) {
    super('EHUB_AUTH', 'stalled', message, { ...options, fault: 'input' });
    this.hubCode = options.hubCode;
  }
}

/** The hub refused this request (another 4xx); `code` is the hub's reason, for example ESERIAL_NOT_INCREASING. */
export class HubRequestError extends HubError {
  constructor(code: string, message: string, options: { status: number }) {
    super(code, 'stalled', message, { ...options, fault: 'input' });
  }
}

/** The hub URL cannot be used (not a URL, not http/https): a person fixes the configuration; the environment's fault like any unreachable hub. */
export class HubUrlError extends HubError {
  constructor(message: string) {
    super('EHUB_URL', 'stalled', message, { fault: 'environment' });
  }
}

export interface HubClientOptions {
  /** The hub's base URL, for example http://127.0.0.1:8787. */
  readonly url: string;
  /** A box's API key or the operator token, sent as `Authorization: Bearer`. */
  readonly token?: string;
  /** Time allowed for one request, on top of any long-poll wait. @default 30 000 ms */
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Largest answer read; reading stops (and the request is aborted) past it. @default {@link MAX_RESPONSE_BYTES} */
  readonly maxResponseBytes?: number;
}

export interface PollOptions {
  /** The ETag of what the box already holds: the hub answers 304 while it is current. */
  readonly etag?: string | null;
  /** Long poll: let the hub hold the request up to this many seconds (it caps at 60). @default 0 */
  readonly waitSeconds?: number;
  /** Aborts the request (the agent is stopping). */
  readonly signal?: AbortSignal;
}

export type SpecPoll =
  | { readonly status: 'changed'; readonly envelope: string; readonly etag: string; readonly serial: number | null }
  | { readonly status: 'unchanged'; readonly etag: string }
  | { readonly status: 'none' };

export type JobsPoll = { readonly status: 'changed'; readonly jobs: readonly PendingJob[]; readonly etag: string } | { readonly status: 'unchanged'; readonly etag: string };

interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly body?: string | Uint8Array;
  readonly headers?: Record<string, string>;
  readonly waitSeconds?: number;
  readonly signal?: AbortSignal;
  /** Statuses other than 2xx the caller handles itself. */
  readonly accept?: readonly number[];
}


const seg = encodeURIComponent;

export class HubClient {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #maxResponseBytes: number;

  constructor(options: HubClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new HubUrlError(`hub URL ${JSON.stringify(options.url)} is not a valid URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new HubUrlError(`hub URL must be http or https, got ${parsed.protocol}`);
    this.url = parsed.href.replace(/\/+$/, '');
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  }

  // ---- box endpoints -------------------------------------------------------------------------

  /** The desired spec envelope for (box, tier): changed, unchanged (304), or none published. */
  async fetchSpec(box: string, tier: Tier, options: PollOptions = {}): Promise<SpecPoll> {
    const response = await this.#request(this.#pollPath(`/v1/boxes/${seg(box)}/tiers/${seg(tier)}/spec`, options), {
      headers: options.etag ? { 'if-none-match': options.etag } : {},
      ...(options.waitSeconds ? { waitSeconds: options.waitSeconds } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      accept: [304, 404],
    });
    if (response.status === 304) return { status: 'unchanged', etag: response.headers.get('etag') ?? options.etag ?? '' };
    if (response.status === 404) {
      const { code } = await readErrorBody(response);
      if (code === 'ENOT_PUBLISHED') return { status: 'none' };
      throw new HubRequestError(code ?? 'EHUB_REFUSED', `hub answered 404 for the spec of ${box}/${tier}`, { status: 404 });
    }
    const etag = response.headers.get('etag');
    if (!etag) throw new HubProtocolError('hub served a spec without an ETag', { status: response.status });
    const serialHeader = response.headers.get(SERIAL_HEADER);
    // A spec envelope larger than any envelope a box accepts is not read at all.
    const envelope = await this.#text(response, Math.min(this.#maxResponseBytes, DEFAULT_MAX_ENVELOPE_BYTES));
    return { status: 'changed', envelope, etag, serial: serialHeader && /^\d+$/.test(serialHeader) ? Number(serialHeader) : null };
  }

  /** The job envelopes published for (box, tier) and not yet reported finished. */
  async fetchJobs(box: string, tier: Tier, options: PollOptions = {}): Promise<JobsPoll> {
    const response = await this.#request(this.#pollPath(`/v1/boxes/${seg(box)}/tiers/${seg(tier)}/jobs`, options), {
      headers: options.etag ? { 'if-none-match': options.etag } : {},
      ...(options.waitSeconds ? { waitSeconds: options.waitSeconds } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      accept: [304],
    });
    if (response.status === 304) return { status: 'unchanged', etag: response.headers.get('etag') ?? options.etag ?? '' };
    const etag = response.headers.get('etag');
    const body = await this.#json(response);
    if (!etag || !Array.isArray(body.jobs)) throw new HubProtocolError('hub answered the job list without an ETag or a jobs array', { status: response.status });
    for (const job of body.jobs) {
      if (!isPlainObject(job) || typeof job.id !== 'string' || typeof job.envelope !== 'string' || typeof job.serial !== 'number') {
        throw new HubProtocolError('hub answered a job without id, serial and envelope', { status: response.status });
      }
    }
    return { status: 'changed', jobs: (body as unknown as JobsResponse).jobs, etag };
  }

  async postReport(box: string, report: ReportRequest, options: { signal?: AbortSignal } = {}): Promise<ReportResponse> {
    const body = await this.#postJson(`/v1/boxes/${seg(box)}/reports`, report, options.signal);
    if (typeof body.id !== 'string') throw new HubProtocolError('hub acknowledged a report without its id');
    return body as unknown as ReportResponse;
  }

  async postAudit(box: string, entries: readonly AuditEntry[], options: { signal?: AbortSignal } = {}): Promise<AuditUploadResponse> {
    const body = await this.#postJson(`/v1/boxes/${seg(box)}/audit`, { entries }, options.signal);
    if (typeof body.accepted !== 'number') throw new HubProtocolError('hub acknowledged audit entries without a count');
    return body as unknown as AuditUploadResponse;
  }

  /** Stores (replaces) the box's escrow blob; the hub keeps it opaque. */
  async putEscrow(box: string, blob: EscrowBlob): Promise<{ storedAt: string }> {
    const response = await this.#request(`/v1/boxes/${seg(box)}/escrow`, { method: 'PUT', body: JSON.stringify(blob), headers: { 'content-type': 'application/json' } });
    const body = await this.#json(response);
    if (typeof body.storedAt !== 'string') throw new HubProtocolError('hub stored the escrow without saying when');
    return { storedAt: body.storedAt };
  }

  /** The box's escrow blob, or null when the hub holds none. The hub records the read. */
  async fetchEscrow(box: string): Promise<EscrowResponse | null> {
    return this.#escrowAnswer(await this.#request(`/v1/boxes/${seg(box)}/escrow`, { accept: [404] }));
  }

  /** Deletes the box's escrow at the hub; false when none was held. */
  async deleteEscrow(box: string): Promise<boolean> {
    const body = await this.#json(await this.#request(`/v1/boxes/${seg(box)}/escrow`, { method: 'DELETE' }));
    return body.deleted === true;
  }

  /** Every store, read and delete of the box's escrow the hub recorded, oldest first. */
  async listEscrowAccesses(box: string): Promise<readonly EscrowAccess[]> {
    const body = await this.#json(await this.#request(`/v1/boxes/${seg(box)}/escrow/accesses`));
    if (!Array.isArray(body.accesses)) throw new HubProtocolError('hub answered the escrow accesses without an accesses array');
    return body.accesses as EscrowAccess[];
  }

  /** The box gives up its own API key for good (decommission). */
  async revokeOwnKey(box: string): Promise<void> {
    await this.#json(await this.#request(`/v1/boxes/${seg(box)}/key`, { method: 'DELETE' }));
  }

  /**
   * Redeems a one-time code (no token: the code is the credential) and answers the signed
   * enrollment configuration. Burns the code: a second call is refused with EENROLL_CODE_USED.
   */
  async redeemEnrollmentCode(box: string, request: EnrollmentRedeemRequest): Promise<EnrollmentConfigResponse> {
    return enrollmentConfigBody(await this.#postJson(`/v1/boxes/${seg(box)}/enrollment`, request));
  }

  /** The configuration again, with the credential the box registered (a retry after a later failure). */
  async fetchEnrollmentConfig(box: string): Promise<EnrollmentConfigResponse> {
    return enrollmentConfigBody(await this.#json(await this.#request(`/v1/boxes/${seg(box)}/enrollment/config`)));
  }

  /**
   * Registers the hub credential of the in-guest controller of `guest` (the box's key; the agent
   * does it when it deploys the controller): it opens the box's guest tier only.
   */
  async registerGuestCredential(box: string, guest: string, credentialHash: string): Promise<{ guest: string; registeredAt: string }> {
    const response = await this.#request(`/v1/boxes/${seg(box)}/guests/${seg(guest)}/credential`, { method: 'PUT', body: JSON.stringify({ credentialHash }), headers: { 'content-type': 'application/json' } });
    const body = await this.#json(response);
    if (typeof body.registeredAt !== 'string') throw new HubProtocolError('hub registered the controller credential without its time');
    return { guest, registeredAt: body.registeredAt };
  }

  /** Tells the hub the box wrote its state; its code can no longer be regenerated. */
  async completeEnrollment(box: string): Promise<{ completedAt: string }> {
    const body = await this.#postJson(`/v1/boxes/${seg(box)}/enrollment/complete`, {});
    if (typeof body.completedAt !== 'string') throw new HubProtocolError('hub acknowledged the enrollment without its time');
    return { completedAt: body.completedAt };
  }

  // ---- operator endpoints --------------------------------------------------------------------

  /** Files a one-time code (its hash) and the signed configuration it unlocks; creates the box record. */
  async issueEnrollmentCode(box: string, request: EnrollmentCodeRequest): Promise<EnrollmentCodeResponse> {
    const body = await this.#postJson(`/v1/boxes/${seg(box)}/enrollment/code`, request);
    if (typeof body.expiresAt !== 'string' || typeof body.box !== 'string') throw new HubProtocolError('hub filed the code without its expiry');
    return body as unknown as EnrollmentCodeResponse;
  }

  async enrollmentStatus(box: string): Promise<EnrollmentStatus> {
    const body = await this.#json(await this.#request(`/v1/boxes/${seg(box)}/enrollment`));
    if (typeof body.state !== 'string') throw new HubProtocolError('hub answered the enrollment status without a state');
    return body as unknown as EnrollmentStatus;
  }


  /** Enrolls a box; the answer holds its API key, which the hub never shows again. */
  async enrollBox(box: string): Promise<EnrollResponse> {
    const body = await this.#postJson('/v1/boxes', { box });
    if (typeof body.apiKey !== 'string' || typeof body.box !== 'string') throw new HubProtocolError('hub enrolled the box without returning its API key');
    return body as unknown as EnrollResponse;
  }

  /** Issues a new API key for an enrolled box; the old key stops working. Shown once. */
  async rotateBoxKey(box: string): Promise<EnrollResponse & { keyRotatedAt: string }> {
    const body = await this.#postJson(`/v1/boxes/${seg(box)}/key`, {});
    if (typeof body.apiKey !== 'string' || typeof body.box !== 'string') throw new HubProtocolError('hub rotated the box key without returning it');
    return body as unknown as EnrollResponse & { keyRotatedAt: string };
  }

  /** Adds an operator account (the bootstrap token only); the answer holds its token, shown once. */
  async addOperator(name: string): Promise<OperatorCreated> {
    const body = await this.#postJson('/v1/operators', { name });
    if (typeof body.token !== 'string' || typeof body.name !== 'string') throw new HubProtocolError('hub added the operator without returning its token');
    return body as unknown as OperatorCreated;
  }

  async removeOperator(name: string): Promise<void> {
    await this.#json(await this.#request(`/v1/operators/${seg(name)}`, { method: 'DELETE' }));
  }

  async listOperators(): Promise<readonly OperatorSummary[]> {
    const body = await this.#json(await this.#request('/v1/operators'));
    if (!Array.isArray(body.operators)) throw new HubProtocolError('hub answered the operator list without an operators array');
    return body.operators as OperatorSummary[];
  }

  /** What operators did at the hub, newest first. */
  async listActivity(options: { limit?: number } = {}): Promise<readonly OperatorActivity[]> {
    const body = await this.#json(await this.#request(`/v1/activity${options.limit ? `?limit=${options.limit}` : ''}`));
    if (!Array.isArray(body.activity)) throw new HubProtocolError('hub answered the activity list without an activity array');
    return body.activity as OperatorActivity[];
  }

  /** The fleet view: every box's state, failing boxes first. */
  async listBoxes(): Promise<BoxListResponse> {
    const body = await this.#json(await this.#request('/v1/boxes'));
    if (!Array.isArray(body.boxes)) throw new HubProtocolError('hub answered the box list without a boxes array');
    return body as unknown as BoxListResponse;
  }

  /** Publishes an envelope file, sent byte for byte. */
  async publish(envelope: string | Uint8Array): Promise<PublishResponse> {
    const response = await this.#request('/v1/envelopes', { method: 'POST', body: envelope, headers: { 'content-type': 'application/json' } });
    const body = await this.#json(response);
    if (typeof body.digest !== 'string' || typeof body.serial !== 'number') throw new HubProtocolError('hub acknowledged the publish without digest and serial');
    return body as unknown as PublishResponse;
  }

  /** The highest serial published for (box, tier); 0 when nothing was. */
  async lastSerial(box: string, tier: Tier): Promise<number> {
    const body = await this.#json(await this.#request(`/v1/boxes/${seg(box)}/tiers/${seg(tier)}/serial`));
    if (typeof body.lastSerial !== 'number' || !Number.isSafeInteger(body.lastSerial) || body.lastSerial < 0) throw new HubProtocolError('hub answered the last serial without a whole number');
    return body.lastSerial;
  }

  async listReports(options: { box?: string; limit?: number } = {}): Promise<readonly Report[]> {
    const query = new URLSearchParams();
    if (options.box) query.set('box', options.box);
    if (options.limit) query.set('limit', String(options.limit));
    const body = await this.#json(await this.#request(`/v1/reports${query.size ? `?${query}` : ''}`));
    if (!Array.isArray(body.reports)) throw new HubProtocolError('hub answered the report list without a reports array');
    return (body as unknown as ReportListResponse).reports;
  }

  async listAudit(box: string): Promise<readonly AuditEntry[]> {
    const body = await this.#json(await this.#request(`/v1/boxes/${seg(box)}/audit`));
    if (!Array.isArray(body.entries)) throw new HubProtocolError('hub answered the audit list without an entries array');
    return (body as unknown as AuditListResponse).entries;
  }

  /** A box's escrow as an operator (operator-managed custody only; the read is recorded and shown to the customer). */
  async fetchEscrowAsOperator(box: string): Promise<EscrowResponse | null> {
    return this.#escrowAnswer(await this.#request(`/v1/escrow/${seg(box)}`, { accept: [404] }));
  }

  async health(): Promise<HealthResponse> {
    const body = await this.#json(await this.#request('/v1/health'));
    if (body.ok !== true || typeof body.protocol !== 'number') throw new HubProtocolError('hub health answer is not { ok, protocol }');
    return body as unknown as HealthResponse;
  }

  async #escrowAnswer(response: Response): Promise<EscrowResponse | null> {
    if (response.status === 404) {
      const { code, message } = await readErrorBody(response);
      if (code === 'ENO_ESCROW') return null;
      throw new HubRequestError(code ?? 'EHUB_REFUSED', `hub answered 404${message ? `: ${message}` : ''}`, { status: 404 });
    }
    const body = await this.#json(response);
    if (!isPlainObject(body.escrow) || typeof body.storedAt !== 'string') throw new HubProtocolError('hub answered the escrow without escrow and storedAt');
    return body as unknown as EscrowResponse;
  }

  // ---- plumbing -----------------------------------------------------------------------------

  #pollPath(path: string, options: PollOptions): string {
    return options.waitSeconds ? `${path}?wait=${Math.ceil(options.waitSeconds)}` : path;
  }

  async #postJson(path: string, value: unknown, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const response = await this.#request(path, { method: 'POST', body: JSON.stringify(value), headers: { 'content-type': 'application/json' }, ...(signal ? { signal } : {}) });
    return this.#json(response);
  }

  async #request(path: string, options: RequestOptions = {}): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#timeoutMs + (options.waitSeconds ?? 0) * 1000);
    const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await this.#fetch(`${this.url}${path}`, { method: options.method ?? 'GET', headers, body: options.body ?? null, signal });
    } catch (error) {
      // The caller stopping is not the hub's fault: let its reason through.
      if (options.signal?.aborted) throw options.signal.reason;
      const why = timeout.aborted ? 'timed out' : `failed: ${describeCause(error)}`;
      throw new HubUnavailableError(`request to the hub at ${this.url} ${why}`, { cause: error });
    }
    if ((response.status >= 200 && response.status < 300) || options.accept?.includes(response.status)) return response;
    const { code, message: hubMessage } = await readErrorBody(response);
    const message = `hub answered ${response.status}${code ? ` ${code}` : ''} for ${options.method ?? 'GET'} ${path.split('?')[0]}${hubMessage ? `: ${hubMessage}` : ''}`;
    if (response.status === 401 || response.status === 403) throw new HubAuthError(message, { status: response.status, hubCode: code ?? 'EAUTH' });
    if (response.status >= 500 || response.status === 429) throw new HubUnavailableError(message, { status: response.status });
    if (response.status >= 400) throw new HubRequestError(code && /^E[A-Z_]+$/.test(code) ? code : 'EHUB_REFUSED', message, { status: response.status });
    throw new HubProtocolError(`hub answered an unexpected status ${response.status} for ${path.split('?')[0]}`, { status: response.status });
  }

  /**
   * The answer's text, read chunk by chunk and cut off past `limit` bytes: a hostile hub's
   * 64 MiB answer costs the box `limit` bytes, never the whole answer in memory.
   */
  async #text(response: Response, limit = this.#maxResponseBytes): Promise<string> {
    const tooLarge = () => new HubProtocolError(`the hub's answer is larger than ${limit} bytes; it was not read further`, { status: response.status });
    const declared = Number(response.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      await response.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    if (!response.body) return '';
    const reader = response.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge();
        }
        chunks.push(value);
      }
    } catch (error) {
      if (error instanceof HubProtocolError) throw error;
      throw new HubUnavailableError(`reading the hub's answer failed: ${describeCause(error)}`, { cause: error });
    }
    return new TextDecoder().decode(Buffer.concat(chunks));
  }

  async #json(response: Response): Promise<Record<string, unknown>> {
    const text = await this.#text(response);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new HubProtocolError(`hub answered ${response.status} with a body that is not JSON`, { status: response.status, cause: error });
    }
    if (!isPlainObject(value)) throw new HubProtocolError(`hub answered ${response.status} with JSON that is not an object`, { status: response.status });
    return value;
  }
}

function enrollmentConfigBody(body: Record<string, unknown>): EnrollmentConfigResponse {
  if (typeof body.envelope !== 'string' || typeof body.box !== 'string') throw new HubProtocolError('hub answered the enrollment without the configuration envelope');
  return body as unknown as EnrollmentConfigResponse;
}

/** Reads `{ error: { code, message } }` from an error answer, if that is what it holds. */
async function readErrorBody(response: Response): Promise<{ code?: string; message?: string }> {
  try {
    const body = (await response.json()) as unknown;
    if (isPlainObject(body) && isPlainObject(body.error) && typeof body.error.code === 'string') {
      return { code: body.error.code.slice(0, 64), ...(typeof body.error.message === 'string' ? { message: body.error.message.slice(0, 500) } : {}) };
    }
  } catch {
    // not the protocol's error body
  }
  return {};
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message ?? String(error);
}
