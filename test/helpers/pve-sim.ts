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
import { simControl, simRequest, simulatedMountIdentity, type ControlTarget, type RawReply } from '../../runner/sim/proxmox/control-client.js';

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
  return { sim, api, control: (method, path, body) => simControl(controlTarget(sim), method, path, body) };
}

/** The simulator as a control-API target. */
export function controlTarget(sim: RunningSimulator): ControlTarget {
  return { url: sim.url, token: sim.token, certificate: sim.certificate };
}

/** A raw HTTPS request to the simulator, trusting its certificate; returns status, status text and body. */
export function rawRequest(sim: RunningSimulator, method: string, path: string, options: { body?: string; contentType?: string; authorization?: string | null } = {}): Promise<RawReply> {
  return simRequest(controlTarget(sim), method, path, options);
}

/** The simulator's view of a dir storage's disk, as `findmnt` would give it on a host. */
export function simMountIdentity(test: TestSimulator): (path: string) => Promise<string | undefined> {
  return simulatedMountIdentity(controlTarget(test.sim));
}
