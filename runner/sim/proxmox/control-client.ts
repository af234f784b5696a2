/**
 * A client for the simulator's control API (`/_sim/…`: faults, media, guest health, state),
 * used by the tests, the demo and an agent told it runs against the simulator (the simulated
 * host's mounted disks stand in for `findmnt`). Test and demo tooling only.
 */
import { request } from 'node:https';

export interface ControlTarget {
  /** `https://127.0.0.1:<port>`. */
  readonly url: string;
  /** `USER@REALM!TOKENID=UUID`. */
  readonly token: string;
  /** The simulator's certificate; without it the connection accepts any (loopback) certificate. */
  readonly certificate?: string;
}

export interface RawReply {
  readonly status: number;
  readonly statusText: string;
  readonly body: any;
}

/** One HTTPS request to the simulator with the token unless `authorization` says otherwise (null: none). */
export function simRequest(target: ControlTarget, method: string, path: string, options: { body?: string; contentType?: string; authorization?: string | null } = {}): Promise<RawReply> {
  const headers: Record<string, string> = {};
  if (options.authorization !== null) headers.authorization = options.authorization ?? `PVEAPIToken=${target.token}`;
  if (options.body !== undefined) headers['content-type'] = options.contentType ?? 'application/x-www-form-urlencoded';
  return new Promise((resolve, reject) => {
    const outgoing = request(`${target.url}${path}`, { method, headers, ...(target.certificate ? { ca: target.certificate } : { rejectUnauthorized: false }) }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', body });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

/** A control-API call, resolving with its `data`; a refusal throws with the status and message. */
export async function simControl<T = unknown>(target: ControlTarget, method: string, path: string, body?: unknown): Promise<T> {
  const reply = await simRequest(target, method, path, body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' });
  if (reply.status < 200 || reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${(reply.body as { message?: string })?.message?.trim() ?? reply.statusText}`);
  return (reply.body as { data: T }).data;
}

/** The simulated host's `findmnt`: the UUID of the attached disk at a dir storage's path. */
export function simulatedMountIdentity(target: ControlTarget): (path: string) => Promise<string | undefined> {
  return async (path) => {
    const state = await simControl<{ media: Record<string, { attached: boolean; identity?: string }> }>(target, 'GET', '/_sim/state');
    const medium = state.media[`dir:${path}`];
    return medium?.attached ? medium.identity : undefined;
  };
}
