/**
 * The customer's view of the box's audit log (docs/architecture.md#audit-log, #trust-boundaries), served by the in-guest controller
 * (through the tunnel in production): after a password login, every entry the local API lets this
 * guest read, in plain words — who, what, when, outcome — with the chain's verification and its
 * agreement with the hub's copy. A broken chain is shown as tampered, never hidden.
 *
 * Passwords are kept as scrypt hashes (`scrypt$N$r$p$salt$hash`, Node's crypto; the seed names
 * bcrypt, which needs a dependency this tree does not carry). Sessions are random cookies held in
 * memory; logins are limited to 5 failures a minute.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { AuditEntry } from '../state/audit.js';
import type { LocalApiClient } from '../local-api/client.js';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: { N: number; r: number; p: number; maxmem: number }) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1 };
const SESSION_COOKIE = 'felhom_session';
const SESSION_MS = 12 * 60 * 60 * 1000;

export async function hashPassword(password: string): Promise<string> {
  if (password.length < 8) throw new Error('password: at least 8 characters');
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32, { ...SCRYPT, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!match) return false;
  const expected = Buffer.from(match[5]!, 'base64url');
  const actual = await scrypt(password, Buffer.from(match[4]!, 'base64url'), expected.length, { N: Number(match[1]), r: Number(match[2]), p: Number(match[3]), maxmem: 64 * 1024 * 1024 });
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Who did it, in words. */
export function describeActor(actor: string): string {
  if (actor === 'agent') return 'the box agent';
  if (actor.startsWith('guest:')) return `your controller (${actor.slice(6)})`;
  return actor
    .split(',')
    .map((fingerprint) => `operator key …${fingerprint.trim().slice(-16)}`)
    .join(' and ');
}

/** What was done, in words. */
export function describeAction(entry: AuditEntry): string {
  if (entry.action === 'spec.apply') return `applied the signed ${entry.tier} configuration`;
  if (entry.action.startsWith('job.')) return `ran the signed ${entry.action.slice(4)} job on the ${entry.tier} tier`;
  if (entry.action.startsWith('local-api.') && entry.reason && entry.outcome !== 'rejected' && entry.outcome !== 'failed') return entry.reason.message;
  if (entry.action.startsWith('local-api.')) return `asked the host to ${entry.action.slice(10)}`;
  if (entry.action === 'audit.torn-tail-quarantined') return 'set aside an incomplete log line after a crash';
  return entry.action;
}

const OUTCOMES: Record<string, string> = { accepted: 'accepted', rejected: 'refused', succeeded: 'done', failed: 'failed' };

interface AuditAnswer {
  readonly ok: boolean;
  readonly problems: number;
  readonly head: { seq: number; hash: string } | null;
  readonly hubHead: { seq: number; hash: string } | null;
  readonly entries: readonly AuditEntry[];
}

/** The verification lines above the table. */
export function verdict(answer: AuditAnswer): { chain: string; hub: string; tampered: boolean } {
  const chain = answer.ok
    ? `The log's hash chain verifies: ${answer.head ? `${answer.head.seq} entries` : 'no entries yet'}.`
    : `TAMPERED: the log's hash chain is broken (${answer.problems} problem${answer.problems === 1 ? '' : 's'}); entries below may have been edited, removed or reordered.`;
  let hub = "The hub has no copy of this log yet.";
  let differs = false;
  if (answer.hubHead) {
    const local = answer.entries.find((entry) => entry.seq === answer.hubHead!.seq);
    if (local && local.hash === answer.hubHead.hash) hub = `It agrees with the hub's copy up to entry ${answer.hubHead.seq}.`;
    else if (!local) hub = `The hub's copy goes to entry ${answer.hubHead.seq}, which this view does not hold.`;
    else {
      differs = true;
      hub = `TAMPERED: entry ${answer.hubHead.seq} DIFFERS from the hub's copy.`;
    }
  }
  return { chain, hub, tampered: !answer.ok || differs };
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3em .6em;text-align:left}.tampered{color:#b00;font-weight:bold}</style></head>
<body>${body}</body></html>`;
}

function loginPage(message = ''): string {
  return page('Sign in', `<h1>Box audit log</h1>${message ? `<p id="message" class="tampered">${escape(message)}</p>` : ''}
<form method="post" action="/login"><label>Password <input type="password" name="password" id="password" autocomplete="current-password"></label> <button type="submit" id="sign-in">Sign in</button></form>`);
}

export function renderAuditPage(answer: AuditAnswer): string {
  const v = verdict(answer);
  const rows = [...answer.entries]
    .reverse()
    .map((entry) => {
      const why = entry.reason && (entry.outcome === 'rejected' || entry.outcome === 'failed') ? ` — ${entry.reason.message}` : '';
      return `<tr><td>${escape(entry.time)}</td><td>${escape(describeActor(entry.actor))}</td><td>${escape(describeAction(entry))}</td><td>${escape(OUTCOMES[entry.outcome] ?? entry.outcome)}${escape(why)}</td></tr>`;
    })
    .join('\n');
  return page('Box audit log', `<h1>Box audit log</h1>
<p id="chain" class="${answer.ok ? 'ok' : 'tampered'}">${escape(v.chain)}</p>
<p id="hub" class="${v.tampered && answer.ok ? 'tampered' : 'ok'}">${escape(v.hub)}</p>
<table id="entries"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Outcome</th></tr></thead><tbody>
${rows}
</tbody></table>`);
}

export interface AuditPageOptions {
  readonly localApi: LocalApiClient;
  readonly passwordHash: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** @default 127.0.0.1; `controller run --ui-listen 0.0.0.0:8080` in a guest, where the host's cloudflared reaches it */
  readonly host?: string;
  readonly clock?: () => Date;
}

export interface RunningAuditPage {
  readonly url: string;
  close(): Promise<void>;
}

async function formField(req: IncomingMessage, name: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) break;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8')).get(name) ?? '';
}

export async function startAuditPage(options: AuditPageOptions): Promise<RunningAuditPage> {
  const clock = options.clock ?? (() => new Date());
  const sessions = new Map<string, number>();
  let failures = { start: 0, count: 0 };
  const send = (res: ServerResponse, status: number, html: string, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-frame-options': 'DENY', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'", ...headers });
    res.end(html);
  };
  const session = (req: IncomingMessage) => {
    const token = /(?:^|;\s*)felhom_session=([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? '')?.[1];
    const expires = token ? sessions.get(token) : undefined;
    return expires !== undefined && expires > clock().getTime();
  };
  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'POST' && path === '/login') {
        const now = clock().getTime();
        if (now - failures.start >= 60_000) failures = { start: now, count: 0 };
        const password = await formField(req, 'password');
        if (failures.count >= 5) return send(res, 429, loginPage('Too many wrong passwords; wait a minute.'));
        if (!(await verifyPassword(password, options.passwordHash))) {
          failures.count += 1;
          return send(res, 401, loginPage('Wrong password.'));
        }
        const token = randomBytes(32).toString('base64url');
        sessions.set(token, now + SESSION_MS);
        res.writeHead(303, { location: '/', 'set-cookie': `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` });
        return res.end();
      }
      if (req.method !== 'GET' || (path !== '/' && path !== '/login')) return send(res, 404, page('Not found', '<p>Not found.</p>'));
      if (path === '/login' || !session(req)) return send(res, path === '/' ? 401 : 200, loginPage());
      try {
        const answer = await options.localApi.call<AuditAnswer>('audit', {});
        return send(res, 200, renderAuditPage(answer));
      } catch (error) {
        return send(res, 502, page('Audit log unavailable', `<p class="tampered">The box agent did not answer: ${escape((error as Error).message)}</p>`));
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.address}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
