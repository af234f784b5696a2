/**
 * The in-guest controller's own hub credential, on both stores: the box registers it; it reads
 * the box's guest-tier spec and jobs and reports for the guest tier, and opens nothing else.
 */
import { createHash } from 'node:crypto';
import t, { type Test } from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { makeEnvelope, startTestHub } from '../helpers/hub.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let postgres: TestPostgres;
t.before(async () => {
  postgres = await startPostgres(t);
});

const backends: Record<string, (t: Test) => Promise<Awaited<ReturnType<typeof startTestHub>>>> = {
  lowdb: (t) => startTestHub(t),
  postgres: async (t) => startTestHub(t, { database: await postgres.createDatabase() }),
};

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

for (const [backend, open] of Object.entries(backends)) {
  t.test(`${backend}: a controller credential opens the guest tier of its box only`, async (t) => {
    const hub = await open(t);
    const box = await hub.enroll('box-1');
    await hub.enroll('box-2');
    await hub.operator.publish(makeEnvelope({ box: 'box-1', tier: 'guest', serial: 1 }));
    await hub.operator.publish(makeEnvelope({ box: 'box-1', tier: 'host', serial: 1 }));
    const token = 'fhb_controller-of-tenant-a-0123456789abcdef';
    t.match(await box.registerGuestCredential('box-1', 'tenant-a', hashOf(token)), { guest: 'tenant-a', registeredAt: String });
    const controller = new HubClient({ url: hub.hub.url, token });
    t.match(await controller.fetchSpec('box-1', 'guest'), { status: 'changed', serial: 1 }, 'the guest spec');
    t.match(await controller.fetchJobs('box-1', 'guest'), { status: 'changed', jobs: [] });
    const report = await controller.postReport('box-1', { jobId: 'a'.repeat(64), tier: 'guest', outcome: 'succeeded', serial: 1 });
    t.match(report, { id: String });
    await t.rejects(controller.fetchSpec('box-1', 'host'), { code: 'EHUB_AUTH', status: 403, message: /guest tier only, not host/ });
    await t.rejects(controller.fetchJobs('box-1', 'edge'), { status: 403 });
    await t.rejects(controller.postReport('box-1', { jobId: 'b'.repeat(64), tier: 'host', outcome: 'succeeded' }), { status: 403, message: /reports for the guest tier only/ });
    await t.rejects(controller.postAudit('box-1', []), { status: 401 }, 'the audit log is the agent’s');
    await t.rejects(controller.fetchSpec('box-2', 'guest'), { status: 401 }, 'another box');
    await t.rejects(new HubClient({ url: hub.hub.url, token }).registerGuestCredential('box-1', 'tenant-b', hashOf('x')), { status: 401 }, 'a controller cannot register credentials');
    // Replacing the credential makes the old one worthless.
    await box.registerGuestCredential('box-1', 'tenant-a', hashOf('fhb_new-controller-key-0123456789abcdef'));
    await t.rejects(controller.fetchSpec('box-1', 'guest'), { status: 401 });
    await t.rejects(box.registerGuestCredential('box-1', 'Tenant A', hashOf('y')), { status: 400, message: /guest:/ });
    await t.rejects(box.registerGuestCredential('box-1', 'tenant-c', 'short'), { status: 400, message: /credentialHash:/ });
    t.same((await box.fetchSpec('box-1', 'host')).status, 'changed', 'the box key still opens every tier');
  });
}
