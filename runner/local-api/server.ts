/**
 * The agent's local constrained API (docs/architecture.md#customer-node, #trust-boundaries): what a guest's controller may ask of the
 * host, and nothing else. One unix socket per guest (`<dir>/<guest>/api.sock`, the directory
 * bind-mounted into that guest's LXC only), HTTP on it:
 *
 *   POST /v1/<verb>   Authorization: Bearer <the guest's local-API token>
 *                     felhom-request-id: <fresh, 16 to 128 of A-Z a-z 0-9 _ ->
 *                     body: a JSON object of the verb's arguments
 *
 * Verbs ({@link LOCAL_API_VERBS}): `snapshot {name}`, `rollback {name}`, `delete-snapshot {name}`,
 * `grow-memory {memoryMiB}`, `grow-disk {diskGiB}` (up to the ceilings of the signed spec last
 * applied), `backup-now {}`, `status {}`, `audit {sinceSeq?}`. Each call is, in this order,
 * rate-limited per guest, authenticated (the token's sha256 compared in constant time with that
 * guest's), checked for replay (a request id seen before is refused), authorised for the socket's
 * guest only (a body naming another guest is refused), validated, then carried out through the
 * agent's own Proxmox access. Every call is in the audit log (runner/state/audit.ts): actor
 * `guest:<name>`, action `local-api.<verb>`, what was asked in the reason's message; a mutating
 * verb gets an `accepted` entry before it runs and its outcome after. Refused calls are audited
 * as `rejected`; past the rate limit only the first refusal of each window is.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { checkSnapshotName } from '../agent/proxmox-operations.js';
import { verifyAuditLog, type AuditEntry, type AuditLog, type AuditOutcome } from '../state/audit.js';
import type { GuestOperations } from './guest-operations.js';
import type { LocalApiTokens } from './tokens.js';
import { LocalApiRefusal } from './errors.js';

export const LOCAL_API_VERBS = ['snapshot', 'rollback', 'delete-snapshot', 'grow-memory', 'grow-disk', 'backup-now', 'status', 'audit'] as const;
export type LocalApiVerb = (typeof LOCAL_API_VERBS)[number];
const MUTATING: ReadonlySet<LocalApiVerb> = new Set(['snapshot', 'rollback', 'delete-snapshot', 'grow-memory', 'grow-disk', 'backup-now']);

export const SOCKET_NAME = 'api.sock';
export const REQUEST_ID_HEADER = 'felhom-request-id';
const REQUEST_ID = /^[A-Za-z0-9_-]{16,128}$/;
const MAX_BODY = 16 * 1024;

/** What the signed spec last applied allows one guest (see {@link grantsFromSpec}). */
export interface GuestGrant {
  readonly guest: string;
  readonly vmId: number;
  /** The most memory the guest may grow to. */
  readonly maxMemoryMiB: number;
  /** The largest root filesystem the guest may grow to. */
  readonly maxDiskGiB: number;
  /** Where `backup-now` writes; absent: `backup-now` is refused. */
  readonly backupStorage?: string;
}

export interface LocalApiOptions {
  readonly box: string;
  /** Where each guest's socket directory is made: `<dir>/<guest>/api.sock`. */
  readonly socketDir: string;
  readonly tokens: LocalApiTokens;
  /** The agent's audit log (one writer per file: the agent's own instance). */
  readonly audit: AuditLog;
  readonly operations: GuestOperations;
  /** The grants of the signed spec last applied, read at every call. */
  readonly grants: () => readonly GuestGrant[] | Promise<readonly GuestGrant[]>;
  /** Calls allowed per guest per window. @default 30 per minute */
  readonly rateLimit?: { readonly calls: number; readonly windowMs: number };
  /** Snapshots a guest may hold at once. @default 5 */
  readonly maxSnapshots?: number;
  /** The hub's audit head after the agent's last upload (agent.json `auditHubHead`), for the customer's comparison. @default - unknown (null) */
  readonly hubHead?: () => { seq: number; hash: string } | null | Promise<{ seq: number; hash: string } | null>;
  readonly clock?: () => Date;
}

interface GuestSocket {
  readonly guest: string;
  readonly path: string;
  readonly server: Server;
  window: { start: number; calls: number; refusalAudited: boolean };
  readonly seen: Map<string, number>;
  /** Mutating calls of one guest run one after the other. */
  chain: Promise<unknown>;
}

/** The grants a box spec gives: each guest may grow to the memory and disk the spec names, and back up to the first backup job's storage covering it. */
export function grantsFromSpec(spec: { guests: readonly { name: string; vmId: number; memoryMiB?: number; diskGiB?: number }[]; backup?: { jobs?: readonly { storage: string; guests?: readonly string[] }[] } }): GuestGrant[] {
  return spec.guests.map((guest) => {
    const job = spec.backup?.jobs?.find((candidate) => !candidate.guests || candidate.guests.includes(guest.name));
    return { guest: guest.name, vmId: guest.vmId, maxMemoryMiB: guest.memoryMiB ?? 4096, maxDiskGiB: guest.diskGiB ?? 32, ...(job ? { backupStorage: job.storage } : {}) };
  });
}

function positiveInteger(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new LocalApiRefusal(400, 'ELOCAL_BAD_REQUEST', `${field}: expected a positive integer, got ${JSON.stringify(value)}`);
  return value as number;
}

function snapshotName(body: Record<string, unknown>): string {
  if (typeof body.name !== 'string') throw new LocalApiRefusal(400, 'ELOCAL_BAD_REQUEST', 'name: expected a snapshot name');
  try {
    checkSnapshotName(body.name);
  } catch (error) {
    throw new LocalApiRefusal(400, 'ELOCAL_BAD_REQUEST', (error as Error).message);
  }
  return body.name;
}

export class LocalApiServer {
  readonly #o: LocalApiOptions;
  readonly #sockets = new Map<string, GuestSocket>();
  readonly #clock: () => Date;

  private constructor(options: LocalApiOptions) {
    this.#o = options;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** Serves a socket for every guest the grants name. */
  static async start(options: LocalApiOptions): Promise<LocalApiServer> {
    const server = new LocalApiServer(options);
    try {
      for (const grant of await options.grants()) await server.serve(grant.guest);
    } catch (error) {
      await server.close();
      throw error;
    }
    return server;
  }

  /** The socket of `guest`, to bind-mount into its LXC. */
  socketPath(guest: string): string {
    return join(this.#o.socketDir, guest, SOCKET_NAME);
  }

  /** Starts serving `guest` (idempotent). */
  async serve(guest: string): Promise<string> {
    const held = this.#sockets.get(guest);
    if (held) return held.path;
    if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(guest)) throw new LocalApiRefusal(400, 'ELOCAL_BAD_REQUEST', `guest: ${JSON.stringify(guest)} is not a guest name`);
    const dir = join(this.#o.socketDir, guest);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    // The guest's root is an unprivileged uid on the host: it must traverse both directories
    // (never list them), whatever the agent's umask (its unit's is 0077).
    await chmod(this.#o.socketDir, 0o711);
    await chmod(dir, 0o711);
    const path = join(dir, SOCKET_NAME);
    await rm(path, { force: true });
    const socket: GuestSocket = { guest, path, server: createServer(), window: { start: 0, calls: 0, refusalAudited: false }, seen: new Map(), chain: Promise.resolve() };
    socket.server.on('request', (req: IncomingMessage, res: ServerResponse) => void this.#handle(socket, req, res));
    await new Promise<void>((resolve, reject) => {
      socket.server.once('error', reject);
      socket.server.listen(path, () => {
        socket.server.off('error', reject);
        resolve();
      });
    });
    // The guest's controller runs as some uid inside the LXC; the token is what admits it.
    await chmod(path, 0o666);
    this.#sockets.set(guest, socket);
    return path;
  }

  async close(): Promise<void> {
    const sockets = [...this.#sockets.values()];
    this.#sockets.clear();
    await Promise.all(
      sockets.map(async (socket) => {
        socket.server.closeAllConnections();
        await new Promise<void>((resolve) => socket.server.close(() => resolve()));
        await rm(socket.path, { force: true });
      }),
    );
  }

  async #audit(guest: string, verb: string, outcome: AuditOutcome, code: string, message: string): Promise<void> {
    await this.#o.audit.append({
      actor: `guest:${guest}`,
      action: `local-api.${verb}`,
      box: this.#o.box,
      tier: 'host',
      envelopeDigest: null,
      outcome,
      reason: { code, message },
    });
  }

  #send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  async #handle(socket: GuestSocket, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verb = /^\/v1\/([a-z-]{1,32})$/.exec(req.url ?? '')?.[1] ?? '(none)';
    try {
      const result = await this.#call(socket, verb, req);
      this.#send(res, 200, result);
    } catch (error) {
      if (error instanceof LocalApiRefusal) {
        this.#send(res, error.status, { error: { code: error.code, message: error.message } });
        return;
      }
      const message = (error as Error).message;
      this.#send(res, 500, { error: { code: (error as { code?: string }).code ?? 'ELOCAL_FAILED', message } });
    }
  }

  /** Refuses and audits (the audit entry is written before the answer). */
  async #refuse(socket: GuestSocket, verb: string, status: number, code: string, message: string): Promise<never> {
    await this.#audit(socket.guest, verb, 'rejected', code, message);
    throw new LocalApiRefusal(status, code, message);
  }

  async #call(socket: GuestSocket, verb: string, req: IncomingMessage): Promise<unknown> {
    const now = this.#clock().getTime();
    // 1. Rate: per guest, whoever asks on its socket.
    const limit = this.#o.rateLimit ?? { calls: 30, windowMs: 60_000 };
    if (now - socket.window.start >= limit.windowMs) socket.window = { start: now, calls: 0, refusalAudited: false };
    socket.window.calls += 1;
    if (socket.window.calls > limit.calls) {
      req.resume();
      const wait = Math.ceil((socket.window.start + limit.windowMs - now) / 1000);
      const message = `more than ${limit.calls} calls in ${limit.windowMs / 1000} s from guest ${socket.guest}; try again in ${wait} s`;
      if (socket.window.refusalAudited) throw new LocalApiRefusal(429, 'ELOCAL_RATE', message);
      socket.window.refusalAudited = true;
      return this.#refuse(socket, verb, 429, 'ELOCAL_RATE', `${message} (further refusals in this window are not audited one by one)`);
    }
    // 2. Who: the token of this socket's guest, and nothing else.
    const header = req.headers.authorization;
    const token = header && /^Bearer ([\x21-\x7e]+)$/.exec(header)?.[1];
    if (!token || !this.#o.tokens.matches(socket.guest, token)) {
      req.resume();
      return this.#refuse(socket, verb, 401, 'ELOCAL_AUTH', `the local-API token is missing or not guest ${socket.guest}'s`);
    }
    // 3. Not a replay of an earlier request.
    const requestId = req.headers[REQUEST_ID_HEADER];
    if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) {
      req.resume();
      return this.#refuse(socket, verb, 400, 'ELOCAL_BAD_REQUEST', `${REQUEST_ID_HEADER}: expected a fresh id of 16 to 128 letters, digits, _ or -`);
    }
    if (socket.seen.has(requestId)) {
      req.resume();
      return this.#refuse(socket, verb, 409, 'ELOCAL_REPLAY', `request ${requestId} was already answered; a replayed request is refused`);
    }
    socket.seen.set(requestId, now);
    if (socket.seen.size > 10_000) for (const [id] of [...socket.seen].slice(0, 5_000)) socket.seen.delete(id);
    // 4. What: a known verb, by POST, with a JSON object.
    if (!LOCAL_API_VERBS.includes(verb as LocalApiVerb)) {
      req.resume();
      return this.#refuse(socket, verb, 404, 'ELOCAL_VERB', `${req.url} is not a verb of the local API; the verbs are ${LOCAL_API_VERBS.join(', ')}`);
    }
    if (req.method !== 'POST') {
      req.resume();
      return this.#refuse(socket, verb, 405, 'ELOCAL_BAD_REQUEST', `${req.method} ${req.url}: use POST`);
    }
    const body = await this.#body(socket, verb, req);
    if (body.guest !== undefined && body.guest !== socket.guest) {
      return this.#refuse(socket, verb, 403, 'ELOCAL_FORBIDDEN', `this socket serves guest ${socket.guest} only; guest ${JSON.stringify(body.guest)} is not yours to ask about`);
    }
    const grant = (await this.#o.grants()).find((candidate) => candidate.guest === socket.guest);
    if (!grant) return this.#refuse(socket, verb, 403, 'ELOCAL_FORBIDDEN', `the spec applied on this host grants guest ${socket.guest} nothing`);
    const typed = verb as LocalApiVerb;
    if (!MUTATING.has(typed)) return this.#read(socket, grant, typed, body).catch((error: unknown) => this.#hostFailed(socket, verb, error));
    const next = socket.chain.then(() => this.#mutate(socket, grant, typed, body));
    socket.chain = next.catch(() => undefined);
    return next;
  }

  async #body(socket: GuestSocket, verb: string, req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) return this.#refuse(socket, verb, 413, 'ELOCAL_BAD_REQUEST', `the body is larger than ${MAX_BODY} bytes`);
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8') || '{}';
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.#refuse(socket, verb, 400, 'ELOCAL_BAD_REQUEST', 'the body is not JSON');
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.#refuse(socket, verb, 400, 'ELOCAL_BAD_REQUEST', 'the body must be a JSON object');
    return value as Record<string, unknown>;
  }

  /** Checks the arguments against the grant and the guest's state; returns what to do and how to say it. */
  async #plan(socket: GuestSocket, grant: GuestGrant, verb: LocalApiVerb, body: Record<string, unknown>): Promise<{ describe: string; run: () => Promise<unknown> }> {
    const ops = this.#o.operations;
    const vmId = grant.vmId;
    const refuse = (code: string, message: string) => this.#refuse(socket, verb, 400, code, message);
    try {
      switch (verb) {
        case 'snapshot': {
          const name = snapshotName(body);
          const held = await ops.listSnapshots(vmId);
          const max = this.#o.maxSnapshots ?? 5;
          if (held.some((snapshot) => snapshot.name === name)) return refuse('ELOCAL_EXISTS', `guest ${grant.guest} already has a snapshot ${name}`);
          if (held.length >= max) return refuse('ELOCAL_LIMIT', `guest ${grant.guest} holds ${held.length} snapshots, the most it may; delete one first`);
          return { describe: `snapshot ${name} of guest ${grant.guest} (CT ${vmId})`, run: () => ops.snapshot(vmId, name).then(() => ({ snapshot: name })) };
        }
        case 'rollback':
        case 'delete-snapshot': {
          const name = snapshotName(body);
          if (!(await ops.listSnapshots(vmId)).some((snapshot) => snapshot.name === name)) return refuse('ELOCAL_NO_SNAPSHOT', `guest ${grant.guest} has no snapshot ${name}`);
          return verb === 'rollback'
            ? { describe: `roll guest ${grant.guest} (CT ${vmId}) back to snapshot ${name}`, run: () => ops.rollback(vmId, name).then(() => ({ rolledBackTo: name })) }
            : { describe: `delete snapshot ${name} of guest ${grant.guest} (CT ${vmId})`, run: () => ops.deleteSnapshot(vmId, name).then(() => ({ deleted: name })) };
        }
        case 'grow-memory': {
          const memoryMiB = positiveInteger(body.memoryMiB, 'memoryMiB');
          const current = (await ops.guestState(vmId)).memoryMiB;
          if (memoryMiB > grant.maxMemoryMiB) return refuse('ELOCAL_OVER_LIMIT', `memoryMiB: ${memoryMiB} is over the ${grant.maxMemoryMiB} MiB the signed spec allows guest ${grant.guest}`);
          if (memoryMiB <= current) return refuse('ELOCAL_NOT_GROWING', `memoryMiB: ${memoryMiB} is not more than the ${current} MiB guest ${grant.guest} has; the local API only grows`);
          return { describe: `grow the memory of guest ${grant.guest} (CT ${vmId}) from ${current} to ${memoryMiB} MiB`, run: () => ops.setMemory(vmId, memoryMiB).then(() => ({ memoryMiB })) };
        }
        case 'grow-disk': {
          const diskGiB = positiveInteger(body.diskGiB, 'diskGiB');
          const current = (await ops.guestState(vmId)).diskGiB;
          if (diskGiB > grant.maxDiskGiB) return refuse('ELOCAL_OVER_LIMIT', `diskGiB: ${diskGiB} is over the ${grant.maxDiskGiB} GiB the signed spec allows guest ${grant.guest}`);
          if (diskGiB <= current) return refuse('ELOCAL_NOT_GROWING', `diskGiB: ${diskGiB} is not more than the ${current} GiB guest ${grant.guest} has; the local API only grows`);
          return { describe: `grow the disk of guest ${grant.guest} (CT ${vmId}) from ${current} to ${diskGiB} GiB`, run: () => ops.growDisk(vmId, diskGiB).then(() => ({ diskGiB })) };
        }
        case 'backup-now': {
          const storage = grant.backupStorage;
          if (!storage) return refuse('ELOCAL_NO_BACKUP', `the signed spec names no backup storage for guest ${grant.guest}`);
          return { describe: `back up guest ${grant.guest} (CT ${vmId}) to ${storage} now`, run: () => ops.backupNow(vmId, storage).then(() => ({ storage })) };
        }
        /* c8 ignore next 2 */
        default:
          throw new LocalApiRefusal(500, 'ELOCAL_FAILED', `no plan for ${verb}`);
      }
    } catch (error) {
      if (error instanceof LocalApiRefusal) {
        if (error.status === 400 && error.code === 'ELOCAL_BAD_REQUEST') await this.#audit(socket.guest, verb, 'rejected', error.code, error.message);
        throw error;
      }
      throw error;
    }
  }

  /** A failure of the host while checking or reading (not a refusal): audited as failed, answered 502. */
  async #hostFailed(socket: GuestSocket, verb: string, error: unknown): Promise<never> {
    if (error instanceof LocalApiRefusal) throw error;
    const code = (error as { code?: string }).code ?? 'ELOCAL_FAILED';
    await this.#audit(socket.guest, verb, 'failed', code, (error as Error).message);
    throw new LocalApiRefusal(502, code, `${verb} failed on the host: ${(error as Error).message}`);
  }

  async #mutate(socket: GuestSocket, grant: GuestGrant, verb: LocalApiVerb, body: Record<string, unknown>): Promise<unknown> {
    const plan = await this.#plan(socket, grant, verb, body).catch((error: unknown) => this.#hostFailed(socket, verb, error));
    // The intent is on record before the host is touched.
    await this.#audit(socket.guest, verb, 'accepted', 'OK', plan.describe);
    try {
      const result = await plan.run();
      await this.#audit(socket.guest, verb, 'succeeded', 'OK', plan.describe);
      return result;
    } catch (error) {
      const code = (error as { code?: string }).code ?? 'ELOCAL_FAILED';
      await this.#audit(socket.guest, verb, 'failed', code, `${plan.describe}: ${(error as Error).message}`);
      throw new LocalApiRefusal(502, code, `${plan.describe} failed: ${(error as Error).message}`);
    }
  }

  async #read(socket: GuestSocket, grant: GuestGrant, verb: LocalApiVerb, body: Record<string, unknown>): Promise<unknown> {
    if (verb === 'status') {
      const [state, snapshots] = await Promise.all([this.#o.operations.guestState(grant.vmId), this.#o.operations.listSnapshots(grant.vmId)]);
      await this.#audit(socket.guest, verb, 'succeeded', 'OK', `status of guest ${grant.guest} read`);
      return { guest: grant.guest, vmId: grant.vmId, ...state, snapshots, limits: { maxMemoryMiB: grant.maxMemoryMiB, maxDiskGiB: grant.maxDiskGiB, backupStorage: grant.backupStorage ?? null } };
    }
    const since = body.sinceSeq === undefined ? 0 : Number.isSafeInteger(body.sinceSeq) && (body.sinceSeq as number) >= 0 ? (body.sinceSeq as number) : NaN;
    if (Number.isNaN(since)) return this.#refuse(socket, verb, 400, 'ELOCAL_BAD_REQUEST', 'sinceSeq: expected a whole number');
    const verification = await verifyAuditLog(this.#o.audit.file);
    const guests = (await this.#o.grants()).length;
    // One guest: the customer sees every operator and agent action. Several: their own calls, and
    // the operator and agent actions whose entry names their guest (`vmIds`); an entry naming no
    // guest concerns the host as a whole, or another tenant as far as anyone can tell.
    const visible = (entry: AuditEntry) =>
      entry.actor === `guest:${socket.guest}` || (!entry.actor.startsWith('guest:') && (guests === 1 || (entry.vmIds ?? []).includes(grant.vmId)));
    const entries = verification.entries.filter((entry) => entry.seq > since && visible(entry));
    await this.#audit(socket.guest, verb, 'succeeded', 'OK', `audit log read by guest ${grant.guest} (${entries.length} entries after seq ${since})`);
    return { ok: verification.ok, head: verification.head, problems: verification.problems.length, hubHead: (await this.#o.hubHead?.()) ?? null, entries };
  }
}
