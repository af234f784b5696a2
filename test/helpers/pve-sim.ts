/**
 * The PVE API simulator for tests: PVE's schema from the `shared/pve-api/` folder beside the
 * repository (or above it), a simulator on a free loopback port stopped at teardown, and an
 * API client holding its token.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Test } from 'tap';
import { findProjectRoot } from '../../runner/engine/locate.js';
import { PveApiClient } from '../../runner/agent/pve-api-client.js';
import { startSimulator, type RunningSimulator, type SimulatorOptions } from '../../runner/sim/proxmox/server.js';

/** apidata.js: $FELHOM_PVE_SCHEMA, else shared/pve-api/apidata.js in the repository's parent folder or above. */
export function pveSchemaFile(): string {
  if (process.env.FELHOM_PVE_SCHEMA) return process.env.FELHOM_PVE_SCHEMA;
  let dir = dirname(findProjectRoot());
  for (;;) {
    const candidate = join(dir, 'shared', 'pve-api', 'apidata.js');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("PVE's API schema not found: expected shared/pve-api/apidata.js beside the repository (or set FELHOM_PVE_SCHEMA)");
    dir = parent;
  }
}

export interface TestSimulator {
  readonly sim: RunningSimulator;
  readonly api: PveApiClient;
  /** A control-API call (`/_sim/...`), resolving with its data. */
  control<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

export async function startTestSimulator(t: Test, options: SimulatorOptions = {}): Promise<TestSimulator> {
  const sim = await startSimulator({ schemaFile: pveSchemaFile(), taskDelayMs: 50, ...options });
  t.teardown(() => sim.close());
  const api = new PveApiClient({ endpoint: sim.url, token: sim.token, ca: sim.certificate, pollMs: 20 });
  return { sim, api, control: (method, path, body) => controlCall(sim, method, path, body) };
}

export async function controlCall<T>(sim: RunningSimulator, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetchInsecure(`${sim.url}${path}`, sim, {
    method,
    headers: { authorization: `PVEAPIToken=${sim.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const parsed = (await response.json()) as { data: T; message?: string };
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${parsed.message ?? ''}`);
  return parsed.data;
}

/** A raw HTTPS request to the simulator, trusting its certificate; returns status, status text and body. */
export async function rawRequest(sim: RunningSimulator, method: string, path: string, options: { body?: string; contentType?: string; authorization?: string | null } = {}): Promise<{ status: number; statusText: string; body: any }> {
  const response = await fetchInsecure(`${sim.url}${path}`, sim, {
    method,
    ...(options.body !== undefined ? { body: options.body } : {}),
    headers: {
      ...(options.authorization === null ? {} : { authorization: options.authorization ?? `PVEAPIToken=${sim.token}` }),
      ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/x-www-form-urlencoded' } : {}),
    },
  });
  return { status: response.status, statusText: response.statusText, body: await response.json() };
}

async function fetchInsecure(url: string, sim: RunningSimulator, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<{ ok: boolean; status: number; statusText: string; json(): Promise<unknown> }> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: init.method, ca: sim.certificate, headers: init.headers ?? {} }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        resolve({ ok: status >= 200 && status < 300, status, statusText: response.statusMessage ?? '', json: async () => JSON.parse(text) });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(init.body);
  });
}

/** The simulator's view of a dir storage's disk, as `findmnt` would give it on a host: the UUID of an attached medium at that path. */
export function simMountIdentity(test: TestSimulator): (path: string) => Promise<string | undefined> {
  return async (path) => {
    const state = await test.control<{ media: Record<string, { attached: boolean; identity?: string }> }>('GET', '/_sim/state');
    const medium = state.media[`dir:${path}`];
    return medium?.attached ? medium.identity : undefined;
  };
}
