/**
 * The in-guest controller's world for tests: a real hub with the box enrolled, the agent's real
 * local API on the simulated Proxmox host (test/helpers/local-api.ts: three guests), the
 * controller's credentials minted by the agent's own `mintControllerCredentials` and written into
 * a controller state directory as the agent writes them, a trust store of alice's key, and a
 * stand-in for the guest's Traefik that answers each app's Host as the test says.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Test } from 'tap';
import { formatEnvelope, signEnvelope, writeTrustStore } from '../../runner/envelope/index.js';
import { mintControllerCredentials, type ControllerCredentials } from '../../runner/local-api/controller-credentials.js';
import type { TestHub } from './hub.js';
import { startTestHub } from './hub.js';
import { companyBox, type DraftSpec } from './box-spec.js';
import { testKey, trustOf } from './keys.js';
import { company, type Fixture } from './local-api.js';
import { tempDir } from './enrollment.js';

export const CO_BOX = 'co-0001';
export const GUEST = 'tenant-a';

/** The company example on the local API fixture's box and guests (tenant-a holds files and passwords). */
export function guestSpec(change: (spec: DraftSpec) => void = () => {}): DraftSpec {
  const names: Record<string, string> = { office: 'tenant-a', engineering: 'tenant-b', operations: 'tenant-c' };
  return companyBox((spec) => {
    spec.metadata.box = CO_BOX;
    spec.spec.guests.forEach((guest, index) => {
      guest.name = names[guest.name]!;
      guest.vmId = 201 + index;
    });
    for (const app of spec.spec.apps ?? []) if (app.guest) app.guest = names[app.guest]!;
    change(spec);
  });
}

export interface ControllerWorld {
  readonly hub: TestHub;
  readonly co: Fixture;
  readonly stateDir: string;
  readonly trustPath: string;
  readonly credentials: ControllerCredentials;
  /** The stand-in Traefik's port, and the status it answers per Host (200 unless set). */
  readonly traefik: { readonly port: number; readonly status: Map<string, number>; readonly asked: string[] };
  publish(serial: number, options?: { signer?: string; change?: (spec: DraftSpec) => void }): Promise<string>;
}

export async function controllerWorld(t: Test): Promise<ControllerWorld> {
  const hub = await startTestHub(t);
  const box = await hub.enroll(CO_BOX);
  const co = await company(t);
  const credentials = await mintControllerCredentials({ hub: box, box: CO_BOX, guest: GUEST, tokens: co.tokens });
  const root = tempDir(t);
  const stateDir = join(root, 'controller');
  await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
  await writeFile(join(stateDir, 'keys', 'hub-api-key'), `${credentials.hubApiKey}\n`, { mode: 0o600 });
  await writeFile(join(stateDir, 'keys', 'local-api-token'), `${credentials.localApiToken}\n`, { mode: 0o600 });
  const trustPath = join(root, 'trust.json');
  await writeTrustStore(trustPath, await trustOf(['alice']));
  const status = new Map<string, number>();
  const asked: string[] = [];
  const server = createServer((req, res) => {
    const host = req.headers.host ?? '';
    asked.push(host);
    res.writeHead(status.get(host) ?? 200).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    hub,
    co,
    stateDir,
    trustPath,
    credentials,
    traefik: { port: (server.address() as AddressInfo).port, status, asked },
    publish: async (serial, options = {}) => {
      const key = await testKey(options.signer ?? 'alice');
      const envelope = formatEnvelope(await signEnvelope({ type: 'spec', box: CO_BOX, tier: 'guest', serial, body: guestSpec(options.change) as never }, key.privateKey));
      await hub.operator.publish(envelope);
      return envelope;
    },
  };
}
