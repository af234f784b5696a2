/**
 * The Proxmox VE API simulator's HTTPS server: PVE's `/api2/json` under API-token auth, every
 * request checked against PVE's published schema before a handler sees it, and a control API
 * under `/_sim/` for tests (faults, media, guest health, state). A test and demo tool
 * (docs/pve-simulator.md), never part of a box.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Access, schemaPrivileges } from './access.js';
import { handlers, SimApiError, SimHost } from './api.js';
import { selfSignedCertificate } from './certificate.js';
import { PveApiSchema, PVE_HOST_SCHEMA, typedReturn, validateParameters, type RequestParameters } from './schema.js';
import { parseTokenHeader, StateStore, type InitialStateOptions, type SimFaults, type SimMedium, type SimState } from './state.js';

export interface SimulatorOptions extends InitialStateOptions {
  /** apidata.js. @default - the PVE host's /usr/share/pve-docs/api-viewer/apidata.js */
  readonly schemaFile?: string;
  /** Keep the state in this file across restarts. @default - in memory only */
  readonly stateFile?: string;
  /** @default - 0, any free port */
  readonly port?: number;
  /** @default - 127.0.0.1 */
  readonly host?: string;
  /** One line per request (method, path, status), never a parameter value or a token. */
  readonly log?: (line: string) => void;
}

export interface RunningSimulator {
  /** `https://127.0.0.1:<port>` (the provider's `endpoint`). */
  readonly url: string;
  readonly port: number;
  /** The PEM certificate it serves, for clients that pin it. */
  readonly certificate: string;
  /** The first API token in the state, `USER@REALM!TOKENID=UUID`. */
  readonly token: string;
  readonly store: StateStore;
  readonly schema: PveApiSchema;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function send(response: ServerResponse, status: number, message: string, body: unknown): void {
  const text = JSON.stringify(body);
  // PVE puts the message in the status line; one line, no control characters.
  const statusMessage = message.split('\n')[0]!.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  response.writeHead(status, statusMessage, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'max-age=0' });
  response.end(text);
}

function fail(response: ServerResponse, status: number, message: string): void {
  send(response, status, message, { data: null, message: `${message.replace(/\n$/, '')}\n` });
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new SimApiError(413, 'request entity too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function addParameter(params: RequestParameters, key: string, value: string): void {
  const present = params[key];
  if (present === undefined) params[key] = value;
  else params[key] = [...(Array.isArray(present) ? present : [present]), value];
}

/** A JSON body's values as PVE's Perl sees them: numbers as text, true/false as 1/0. */
function scalar(value: unknown): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (value === null || value === undefined) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

async function requestParameters(request: IncomingMessage, url: URL): Promise<RequestParameters> {
  const params: RequestParameters = {};
  for (const [key, value] of url.searchParams) addParameter(params, key, value);
  if (request.method === 'GET' || request.method === 'DELETE') return params;
  const body = await readBody(request);
  if (body.trim() === '') return params;
  const type = request.headers['content-type'] ?? '';
  if (type.includes('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new SimApiError(400, 'malformed JSON string');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new SimApiError(400, 'JSON body must be an object');
    for (const [key, value] of Object.entries(parsed)) {
      if (Array.isArray(value)) value.forEach((item) => addParameter(params, key, scalar(item)));
      else addParameter(params, key, scalar(value));
    }
  } else for (const [key, value] of new URLSearchParams(body)) addParameter(params, key, value);
  return params;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The token user of a request, or undefined when its Authorization header is missing or wrong. */
function authenticate(state: SimState, header: string | undefined): { user: string } | 'missing' | 'invalid' {
  if (!header) return 'missing';
  const match = /^PVEAPIToken=(.+)$/.exec(header.trim());
  if (!match) return 'invalid';
  const parsed = parseTokenHeader(match[1]!);
  if (!parsed) return 'invalid';
  const token = state.tokens.find((candidate) => candidate.userid === parsed.userid && candidate.tokenid === parsed.tokenid);
  if (!token || !sameSecret(token.value, parsed.secret)) return 'invalid';
  const now = Date.now() / 1000;
  if (token.expire > 0 && token.expire < now) return 'invalid';
  // PVE refuses a token whose user is gone, disabled or expired.
  const owner = state.users[token.userid];
  if (!owner || owner.enable === 0 || (owner.expire > 0 && owner.expire < now)) return 'invalid';
  return { user: `${token.userid}!${token.tokenid}` };
}

/** The state as the control API shows it: token secrets and storage credentials left out. */
function publicState(state: SimState): unknown {
  const storages = Object.fromEntries(Object.entries(state.storages).map(([id, config]) => [id, Object.fromEntries(Object.entries(config).filter(([key]) => !['password', 'encryption-key', 'keyring', 'master-pubkey'].includes(key)))]));
  return { ...state, storages, tokens: state.tokens.map(({ value: _value, ...token }) => token) };
}

async function control(store: StateStore, method: string, path: string, request: IncomingMessage): Promise<unknown> {
  const state = store.state;
  const bodyText = method === 'GET' || method === 'DELETE' ? '' : await readBody(request);
  let body: Record<string, unknown> = {};
  if (bodyText.trim()) {
    try {
      body = JSON.parse(bodyText) as Record<string, unknown>;
    } catch {
      throw new SimApiError(400, 'control API: expected a JSON body');
    }
  }
  if (method === 'GET' && path === '/_sim/state') return publicState(state);
  if (method === 'POST' && path === '/_sim/faults') {
    const faults = body as Partial<SimFaults>;
    state.faults.tasks.push(...(faults.tasks ?? []));
    state.faults.replies.push(...(faults.replies ?? []));
    state.faults.nodes.push(...(faults.nodes ?? []));
    return state.faults;
  }
  if (method === 'DELETE' && path === '/_sim/faults') {
    state.faults = { tasks: [], replies: [], nodes: [] };
    return state.faults;
  }
  if (method === 'PUT' && path === '/_sim/media') {
    const key = body.key;
    if (typeof key !== 'string' || !key) throw new SimApiError(400, 'control API: media needs a key such as "dir:/mnt/felhom/usb-media" or "nfs:nas.lan:/volume1/felhom"');
    const medium: SimMedium = state.media[key] ?? { attached: true, volumes: [], total: 2000 * 2 ** 30 };
    if (typeof body.attached === 'boolean') medium.attached = body.attached;
    if (typeof body.identity === 'string') medium.identity = body.identity;
    if (typeof body.total === 'number') medium.total = body.total;
    if (Array.isArray(body.volumes)) medium.volumes.push(...(body.volumes as SimMedium['volumes']));
    state.media[key] = medium;
    return medium;
  }
  const guest = /^\/_sim\/containers\/(\d+)$/.exec(path);
  if (method === 'PUT' && guest) {
    const container = state.containers[guest[1]!];
    if (!container) throw new SimApiError(404, `no container ${guest[1]}`);
    if (typeof body.healthy === 'boolean') container.healthy = body.healthy;
    return { vmid: container.vmid, healthy: container.healthy };
  }
  if (method === 'PUT' && path === '/_sim/task-delay') {
    if (typeof body.ms !== 'number' || body.ms < 0) throw new SimApiError(400, 'control API: task-delay needs {"ms": <milliseconds>}');
    state.taskDelayMs = body.ms;
    return { ms: state.taskDelayMs };
  }
  throw new SimApiError(404, `control API: no ${method} ${path}`);
}

function takeReplyFault(state: SimState, method: string, path: string): { status: number; message: string } | undefined {
  const fault = state.faults.replies.find((candidate) => (!candidate.method || candidate.method === method) && path.startsWith(candidate.path));
  if (!fault) return undefined;
  if (fault.count !== undefined && --fault.count <= 0) state.faults.replies.splice(state.faults.replies.indexOf(fault), 1);
  return { status: fault.status, message: fault.message ?? `simulated ${fault.status} for ${method} ${path}` };
}

/** Starts the simulator; it serves until `close()`. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const schema = await PveApiSchema.load(options.schemaFile ?? PVE_HOST_SCHEMA);
  const privileges = schemaPrivileges(schema);
  const store = await StateStore.open(options.stateFile, options);
  const { key, cert } = await selfSignedCertificate();
  const log = options.log ?? (() => {});

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? 'GET';
    const url = new URL(`https://simulator${request.url ?? '/'}`);
    // An endpoint configured with a trailing slash makes clients send `//api2/json/…`; PVE's server takes it.
    url.pathname = url.pathname.replace(/\/{2,}/g, '/');
    const state = store.state;
    const auth = authenticate(state, request.headers.authorization);
    if (auth === 'missing') return fail(response, 401, 'No ticket');
    if (auth === 'invalid') return fail(response, 401, 'authentication failure');

    if (url.pathname.startsWith('/_sim/')) {
      const data = await control(store, method, url.pathname, request);
      await store.save();
      return send(response, 200, 'OK', { data });
    }
    const prefix = '/api2/json';
    if (!url.pathname.startsWith(`${prefix}/`)) return fail(response, 501, `Unsupported API path '${url.pathname}'`);
    const path = url.pathname.slice(prefix.length).replace(/\/+$/, '') || '/';

    const nodeFault = /^\/nodes\/([^/]+)/.exec(path);
    const slow = nodeFault ? state.faults.nodes.find((fault) => fault.node === nodeFault[1]) : undefined;
    if (slow) {
      await new Promise((resolve) => setTimeout(resolve, slow.delayMs));
      return fail(response, 595, `Connection timed out`);
    }
    const injected = takeReplyFault(state, method, path);
    if (injected) {
      await store.save();
      return fail(response, injected.status, injected.message);
    }

    const route = schema.match(method, path);
    if (!route?.method) return fail(response, 501, `Method '${method} ${path}' not implemented`);
    const params = { ...(await requestParameters(request, url)), ...route.pathParameters };
    const errors = validateParameters(route.method, params);
    if (Object.keys(errors).length > 0) return send(response, 400, 'Parameter verification failed.', { errors, data: null });

    const handler = handlers[`${method} ${route.template}`];
    if (!handler) return fail(response, 501, `Method '${method} ${route.template}' is in PVE's schema but not simulated`);
    // PVE's permission check of the method (its schema's `permissions`), before the handler.
    const access = new Access(state, privileges, auth.user);
    access.checkMethod(route.method, params);
    const sim = new SimHost(state, schema);
    const data = handler(sim, { method, template: route.template, params, user: auth.user, access });
    if (method !== 'GET') await store.save();
    send(response, 200, 'OK', { data: typedReturn(route.method.returns, data) });
  };

  const server: Server = createServer({ key, cert }, (request, response) => {
    const started = Date.now();
    handle(request, response)
      .catch((error: unknown) => {
        if (error instanceof SimApiError && error.errors) send(response, error.status, error.message, { errors: error.errors, data: null });
        else if (error instanceof SimApiError) fail(response, error.status, error.message);
        else {
          log(`simulator error: ${(error as Error).stack ?? String(error)}`);
          fail(response, 500, `simulator error: ${(error as Error).message}`);
        }
      })
      .finally(() => log(`${request.method} ${(request.url ?? '').split('?')[0]} ${response.statusCode} ${Date.now() - started}ms`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  const first = store.state.tokens[0]!;
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    certificate: cert,
    token: `${first.userid}!${first.tokenid}=${first.value}`,
    store,
    schema,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }).then(() => store.save()),
  };
}
