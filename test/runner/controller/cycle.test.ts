/**
 * The in-guest controller's cycle against the real hub (with its own guest-tier credential) and
 * the real local API on the simulated host: a verified guest spec deploys inside a snapshot, an
 * unhealthy one is rolled back through the local API, a spec not signed by the operators is
 * rejected before any snapshot, and every outcome reaches the hub as a report.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { controllerCycle } from '../../../runner/controller/cycle.js';
import { formatEnvelope, signEnvelope } from '../../../runner/envelope/index.js';
import { HubClient } from '../../../runner/hub/client.js';
import { tempDir } from '../../helpers/enrollment.js';
import { startTestHub } from '../../helpers/hub.js';
import { testKey, trustOf } from '../../helpers/keys.js';
import { company, snapshotsOf } from '../../helpers/local-api.js';

t.test('controller cycles: deploy in a snapshot, roll back when unhealthy, reject what the operators did not sign', async (t) => {
  const hub = await startTestHub(t);
  const box = await hub.enroll('co-0001');
  const credential = 'fhb_controller-tenant-a-credential-0123456789';
  await box.registerGuestCredential('co-0001', 'tenant-a', createHash('sha256').update(credential).digest('hex'));
  const controllerHub = new HubClient({ url: hub.hub.url, token: credential });
  const co = await company(t);
  const alice = await testKey('alice');
  const mallory = await testKey('mallory');
  const publish = async (serial: number, signer = alice, body: Record<string, unknown> = { apps: [`app-${serial}`] }) =>
    hub.operator.publish(formatEnvelope(await signEnvelope({ type: 'spec', box: 'co-0001', tier: 'guest', serial, body }, signer.privateKey)));
  let appStatus = 200;
  const app = createServer((_req, res) => res.writeHead(appStatus).end());
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => app.close(() => resolve())));
  const healthUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}/`;
  const deployed: number[] = [];
  const options = {
    hub: controllerHub,
    box: 'co-0001',
    guest: 'tenant-a',
    trust: await trustOf(['alice']),
    localApi: co.client('tenant-a'),
    stateDir: tempDir(t),
    deploy: async (_body: Record<string, unknown>, serial: number) => {
      deployed.push(serial);
      if (serial === 2) appStatus = 503;
    },
    healthCheck: async () => {
      const response = await fetch(healthUrl);
      return { healthy: response.ok, detail: `apps answered ${response.status}` };
    },
  };

  t.same(await controllerCycle(options), { status: 'idle' }, 'nothing published yet');
  await publish(1);
  t.match(await controllerCycle(options), { status: 'succeeded', serial: 1 });
  t.same(await snapshotsOf(co.sim, 201), [], 'the transient snapshot was deleted');
  t.same(await controllerCycle(options), { status: 'idle' }, 'the same spec is not deployed twice');

  await publish(2);
  t.match(await controllerCycle(options), { status: 'failed', serial: 2, reason: { code: 'EHEALTH', message: /rolled back to snapshot pre-deploy-2/ } });
  appStatus = 200;

  await publish(3, mallory);
  t.match(await controllerCycle(options), { status: 'rejected', serial: null, reason: { code: 'EUNKNOWNKEY' } });
  t.same(deployed, [1, 2], 'the unsigned spec was not deployed');

  const reports = await hub.operator.listReports({ box: 'co-0001' });
  t.same(reports.map((r) => [r.tier, r.outcome, r.serial ?? null, r.reason?.code ?? null]).reverse(), [
    ['guest', 'succeeded', 1, null],
    ['guest', 'failed', 2, 'EHEALTH'],
    ['guest', 'rejected', null, 'EUNKNOWNKEY'],
  ]);
  const calls = (await co.entries()).filter((e) => e.outcome !== 'accepted').map((e) => `${e.action} ${e.outcome}`);
  t.same(calls, ['local-api.snapshot succeeded', 'local-api.delete-snapshot succeeded', 'local-api.snapshot succeeded', 'local-api.rollback succeeded'], 'the host saw a snapshot per verified spec, and one rollback');
});
