/**
 * A small client for the Proxmox VE REST API (`/api2/json`) with an API token, for the agent's
 * own host operations (snapshot, rollback, restore, storage status) where `pct` is not at hand:
 * against the PVE API simulator, or a PVE host reached over HTTPS. Errors carry PVE's HTTP
 * status, its message and its per-parameter errors; the token never appears in one.
 */
import { request as httpsRequest } from 'node:https';
import { AgentError } from './errors.js';

/**
 * PVE answered with an error status, or could not be reached. Kind `waiting` when the host
 * could not be reached or answered for an unreachable node (0, 502–504, 595, 596): retry later.
 * PVE answers its handlers' own refusals with 500, which are generic.
 */
export class PveApiError extends AgentError {
  /** The HTTP status (0 when the host could not be reached). */
  readonly status: number;
  /** PVE's per-parameter errors for a 400. */
  readonly errors: Readonly<Record<string, string>>;
  constructor(status: number, message: string, errors: Readonly<Record<string, string>> = {}, options: { cause?: unknown } = {}) {
    super('EPVE_API', status === 0 || status >= 502 ? 'waiting' : 'generic', message, options);
    this.status = status;
    this.errors = errors;
  }
}

/** A task ended with something other than OK. */
export class PveTaskError extends AgentError {
  readonly upid: string;
  readonly exitstatus: string;
  constructor(upid: string, exitstatus: string) {
    super('EPVE_TASK', 'generic', `Proxmox task ${upid} failed: ${exitstatus}`);
    this.upid = upid;
    this.exitstatus = exitstatus;
  }
}

export interface PveApiClientOptions {
  /** `https://<host>:8006`. */
  readonly endpoint: string;
  /** `USER@REALM!TOKENID=UUID`. */
  readonly token: string;
  /** Accept a self-signed certificate (the host's own, over loopback). @default - false */
  readonly insecure?: boolean;
  /** A PEM certificate to trust instead of the system's CAs. */
  readonly ca?: string;
  /** Per request. @default - 30 s */
  readonly timeoutMs?: number;
  /** Between task status polls. @default - 250 ms */
  readonly pollMs?: number;
  /** How long a task may run. @default - 30 min */
  readonly taskTimeoutMs?: number;
}

export type PveParams = Readonly<Record<string, string | number | boolean | undefined>>;

export interface PveTaskStatus {
  readonly status: 'running' | 'stopped';
  readonly exitstatus?: string;
}

export class PveApiClient {
  readonly #options: PveApiClientOptions;
  readonly #base: URL;
  constructor(options: PveApiClientOptions) {
    this.#options = options;
    this.#base = new URL(options.endpoint.replace(/\/+$/, '') + '/api2/json/');
  }

  get<T = unknown>(path: string, params: PveParams = {}): Promise<T> {
    return this.request<T>('GET', path, params);
  }

  post<T = unknown>(path: string, params: PveParams = {}): Promise<T> {
    return this.request<T>('POST', path, params);
  }

  put<T = unknown>(path: string, params: PveParams = {}): Promise<T> {
    return this.request<T>('PUT', path, params);
  }

  delete<T = unknown>(path: string, params: PveParams = {}): Promise<T> {
    return this.request<T>('DELETE', path, params);
  }

  /** One API call; resolves with `data`. Parameters go in the query (GET, DELETE) or a form body. */
  request<T>(method: string, path: string, params: PveParams = {}): Promise<T> {
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined) continue;
      form.append(key, typeof value === 'boolean' ? (value ? '1' : '0') : String(value));
    }
    const url = new URL(path.replace(/^\//, ''), this.#base);
    const inQuery = method === 'GET' || method === 'DELETE';
    if (inQuery) url.search = form.toString();
    const body = inQuery ? undefined : form.toString();
    return new Promise<T>((resolve, reject) => {
      const outgoing = httpsRequest(url, {
        method,
        headers: {
          authorization: `PVEAPIToken=${this.#options.token}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } : {}),
        },
        rejectUnauthorized: !this.#options.insecure,
        ...(this.#options.ca ? { ca: this.#options.ca } : {}),
        timeout: this.#options.timeoutMs ?? 30_000,
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          let parsed: { data?: unknown; errors?: Record<string, string> } = {};
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as typeof parsed;
          } catch {
            // a non-JSON error page: the status line says enough
          }
          if (status >= 200 && status < 300) return resolve(parsed.data as T);
          const errors = parsed.errors ?? {};
          const detail = Object.entries(errors).map(([key, message]) => `${key}: ${message.trim()}`).join('; ');
          reject(new PveApiError(status, `${method} ${path}: ${status} ${response.statusMessage ?? ''}${detail ? ` (${detail})` : ''}`.trim(), errors));
        });
        response.on('error', (cause) => reject(new PveApiError(0, `${method} ${path}: ${cause.message}`, {}, { cause })));
      });
      outgoing.on('timeout', () => outgoing.destroy(new Error(`no answer within ${this.#options.timeoutMs ?? 30_000} ms`)));
      outgoing.on('error', (cause) => reject(new PveApiError(0, `${method} ${path}: ${cause.message}`, {}, { cause })));
      outgoing.end(body);
    });
  }

  /** Polls a task until it stops; throws PveTaskError unless it ended OK (or with warnings). */
  async waitForTask(node: string, upid: string): Promise<void> {
    const deadline = Date.now() + (this.#options.taskTimeoutMs ?? 30 * 60 * 1000);
    for (;;) {
      const status = await this.get<PveTaskStatus>(`/nodes/${encodeURIComponent(node)}/tasks/${encodeURIComponent(upid)}/status`);
      if (status.status === 'stopped') {
        const exit = status.exitstatus ?? '';
        if (exit === 'OK' || (exit.startsWith('WARNINGS: ') && !exit.includes('ERROR'))) return;
        throw new PveTaskError(upid, exit || 'no exit status');
      }
      if (Date.now() > deadline) throw new PveTaskError(upid, 'still running at the task time-out');
      await new Promise((resolve) => setTimeout(resolve, this.#options.pollMs ?? 250));
    }
  }

  /** Starts a task (a call answering with a UPID) and waits for it. */
  async runTask(method: 'POST' | 'PUT' | 'DELETE', node: string, path: string, params: PveParams = {}): Promise<string> {
    const upid = await this.request<string>(method, path, params);
    await this.waitForTask(node, upid);
    return upid;
  }
}
