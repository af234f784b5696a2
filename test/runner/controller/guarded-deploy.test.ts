/**
 * Snapshot-before-deploy from inside a guest, through the real local API on the simulated host:
 * a deploy whose health check fails is rolled back through the local API; a healthy one leaves no
 * snapshot; a failed deploy keeps its snapshot; a refused snapshot deploys nothing.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { guardedDeploy } from '../../../runner/controller/guarded-deploy.js';
import { company, snapshotsOf } from '../../helpers/local-api.js';

/** A real HTTP server standing in for the guest's apps: it answers with `status`, which a deploy changes. */
async function app(t: Test): Promise<{ status: number; url: string; check: () => Promise<{ healthy: boolean; detail: string }> }> {
  const state = { status: 200, url: '', check: async () => ({ healthy: false, detail: '' }) };
  const server = createServer((_req, res) => res.writeHead(state.status).end(String(state.status)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  state.check = async () => {
    const response = await fetch(state.url);
    return { healthy: response.ok, detail: `${state.url} answered ${response.status}` };
  };
  return state;
}

t.test('an unhealthy deploy is rolled back through the local API', async (t) => {
  const co = await company(t);
  const apps = await app(t);
  const deployed: string[] = [];
  await t.rejects(
    guardedDeploy({
      localApi: co.client('tenant-a'),
      snapshotName: 'pre-deploy-7',
      deploy: async () => {
        deployed.push('serial 7');
        apps.status = 503;
      },
      healthCheck: apps.check,
    }),
    { code: 'EHEALTH', snapshot: 'pre-deploy-7', message: /answered 503\); the guest was rolled back to snapshot pre-deploy-7/ },
  );
  t.same(deployed, ['serial 7']);
  const actions = (await co.entries()).filter((e) => e.outcome === 'succeeded').map((e) => e.action);
  t.same(actions, ['local-api.snapshot', 'local-api.rollback'], 'the agent snapshotted and rolled the guest back, on its audit log');
  const tasks = await co.sim.api.get<{ type: string; id: string }[]>('/nodes/pve/tasks', { vmid: 201 });
  t.ok(tasks.some((task) => task.type === 'vzrollback'), 'the host ran the rollback');
  t.same(await snapshotsOf(co.sim, 202), [], 'another guest is untouched');
});

t.test('a healthy deploy leaves no snapshot; a failed deploy keeps one; a refused snapshot deploys nothing', async (t) => {
  const co = await company(t, { maxSnapshots: 1 });
  const apps = await app(t);
  const ok = await guardedDeploy({ localApi: co.client('tenant-a'), snapshotName: 'pre-deploy-8', deploy: async () => 'deployed', healthCheck: apps.check });
  t.match(ok, { result: 'deployed', health: { healthy: true } });
  t.same(await snapshotsOf(co.sim, 201), [], 'the transient snapshot is gone');
  await t.rejects(
    guardedDeploy({ localApi: co.client('tenant-a'), snapshotName: 'pre-deploy-9', deploy: async () => { throw new Error('compose up failed'); }, healthCheck: apps.check }),
    { code: 'EDEPLOY', snapshot: 'pre-deploy-9', message: /compose up failed/ },
  );
  t.same(await snapshotsOf(co.sim, 201), ['pre-deploy-9'], 'kept for a person');
  let ran = false;
  await t.rejects(
    guardedDeploy({ localApi: co.client('tenant-a'), snapshotName: 'pre-deploy-10', deploy: async () => { ran = true; }, healthCheck: apps.check }),
    { code: 'ESNAPSHOT', snapshot: null, message: /ELOCAL_LIMIT|snapshots, the most it may/ },
  );
  t.notOk(ran, 'nothing deployed without a snapshot');
  await t.rejects(
    guardedDeploy({ localApi: co.client('tenant-b'), snapshotName: 'pre-deploy-1', deploy: async () => { apps.status = 500; }, healthCheck: async () => { throw new Error('no route'); } }),
    { code: 'EHEALTH', message: /the health check failed: no route/ },
  );
  await co.sim.control('POST', '/_sim/faults', { tasks: [{ type: 'vzrollback', message: 'rollback is busy', count: 1 }] });
  await t.rejects(
    guardedDeploy({ localApi: co.client('tenant-c'), snapshotName: 'pre-deploy-1', deploy: async () => { apps.status = 500; }, healthCheck: apps.check }),
    { code: 'EROLLBACK', message: /rollback is busy/ },
  );
});
