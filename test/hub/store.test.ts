/**
 * The storage contract, run against both backends: the embedded lowdb document and a real
 * PostgreSQL server started for this file (test/helpers/postgres.ts).
 */
import t, { type Test } from 'tap';
import { HubDatabase } from '../../hub/database.js';
import { fleetView } from '../../hub/fleet.js';
import { PostgresHubStore } from '../../hub/postgres.js';
import type { HubStore } from '../../hub/store.js';
import { auditChain, makeEnvelope } from '../helpers/hub.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let postgres: TestPostgres;
t.before(async () => {
  postgres = await startPostgres(t);
});

const backends: Record<string, (t: Test) => Promise<HubStore>> = {
  lowdb: async (t) => {
    const store = await HubDatabase.open(t.testdir());
    t.teardown(() => store.close());
    return store;
  },
  postgres: async (t) => {
    const store = await PostgresHubStore.open(await postgres.createDatabase());
    t.teardown(() => store.close());
    return store;
  },
};

const publish = (store: HubStore, fields: Parameters<typeof makeEnvelope>[0], by = 'alice') => {
  const text = makeEnvelope(fields);
  return store.publish(text, Buffer.from(text), by);
};

for (const [name, open] of Object.entries(backends)) {
  t.test(`${name}: boxes enroll once, keys match only their box, and a rotation replaces the key`, async (t) => {
    const store = await open(t);
    const { apiKey } = await store.enroll('box-1', 'alice');
    t.match(apiKey, /^fhb_[A-Za-z0-9_-]{43}$/);
    t.equal(await store.hasBox('box-1'), true);
    t.equal(await store.hasBox('constructor'), false, 'no prototype key passes as a box');
    await t.rejects(store.enroll('box-1', 'alice'), { code: 'EBOX_EXISTS', status: 409 });
    t.equal(await store.boxKeyMatches('box-1', apiKey), true);
    t.equal(await store.boxKeyMatches('box-2', apiKey), false);
    t.equal(await store.boxKeyMatches('box-1', 'fhb_wrong'), false);
    const rotated = await store.rotateKey('box-1', 'bob');
    t.equal(await store.boxKeyMatches('box-1', apiKey), false, 'the old key stops working at once');
    t.equal(await store.boxKeyMatches('box-1', rotated.apiKey), true);
    await t.rejects(store.rotateKey('box-9', 'bob'), { code: 'EBOX_UNKNOWN', status: 404 });
    t.match(await store.activity(), [
      { operator: 'bob', action: 'rotate-key', subject: 'box-1' },
      { operator: 'alice', action: 'enroll', subject: 'box-1' },
    ]);
  });

  t.test(`${name}: publishes keep serials increasing, the spec is replaced and jobs queue until reported`, async (t) => {
    const store = await open(t);
    const changes: string[] = [];
    store.onChange((box, tier, at) => {
      t.ok(Math.abs(Date.now() - at) < 60_000, 'a change carries its commit time');
      changes.push(`${box}/${tier}`);
    });
    await store.enroll('box-1', 'alice');
    await t.rejects(publish(store, { box: 'box-2' }), { code: 'EBOX_UNKNOWN', status: 404 });
    t.equal(await store.spec('box-1', 'host'), null);
    const emptyEtag = await store.jobsEtag('box-1', 'host');

    const first = await publish(store, { serial: 1 });
    await t.rejects(publish(store, { serial: 1 }), { code: 'ESERIAL_NOT_INCREASING', status: 409 });
    const second = await publish(store, { serial: 2 }, 'bob');
    const spec = await store.spec('box-1', 'host');
    t.match(spec, { serial: 2, digest: second.digest, type: 'spec', publishedBy: 'bob' });
    t.not(first.digest, second.digest);

    const job = await publish(store, { type: 'job', serial: 3 });
    await publish(store, { type: 'job', serial: 4 });
    t.same((await store.pendingJobs('box-1', 'host')).map((j) => j.serial), [3, 4]);
    const etag = await store.jobsEtag('box-1', 'host');
    t.not(etag, emptyEtag);
    t.same(await store.pendingJobs('box-1', 'guest'), [], 'tiers are separate');

    const report = await store.addReport('box-1', { jobId: job.payloadDigest, tier: 'host', outcome: 'succeeded', serial: 3 });
    t.match(report, { box: 'box-1', jobId: job.payloadDigest, outcome: 'succeeded' });
    t.same((await store.pendingJobs('box-1', 'host')).map((j) => j.serial), [4], 'a final report takes the job off the list');
    t.not(await store.jobsEtag('box-1', 'host'), etag);
    t.match(await store.reports({ box: 'box-1' }), [{ id: report.id }]);
    t.same(await store.reports({ box: 'box-2' }), []);

    // PostgreSQL delivers its notifications asynchronously.
    for (let i = 0; i < 100 && changes.length < 5; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    t.same(changes, ['box-1/host', 'box-1/host', 'box-1/host', 'box-1/host', 'box-1/host'], 'every publish and the finished job are changes');
    t.match((await store.activity({ limit: 2 })).map((a) => [a.operator, a.action, a.serial]), [
      ['alice', 'publish', 4],
      ['alice', 'publish', 3],
    ]);
  });

  t.test(`${name}: audit uploads continue the chain, retries are accepted unchanged`, async (t) => {
    const store = await open(t);
    await store.enroll('box-1', 'alice');
    const [e1, e2, e3] = auditChain('box-1', 3) as [ReturnType<typeof auditChain>[0], ReturnType<typeof auditChain>[0], ReturnType<typeof auditChain>[0]];
    t.same(await store.appendAudit('box-1', [e1, e2]), { accepted: 2, head: { seq: 2, hash: e2.hash } });
    t.same(await store.appendAudit('box-1', [e2, e3]), { accepted: 1, head: { seq: 3, hash: e3.hash } });
    t.same(await store.appendAudit('box-1', [e3]), { accepted: 0, head: { seq: 3, hash: e3.hash } }, 'a retry of the last entry');
    await t.rejects(store.appendAudit('box-1', auditChain('box-1', 1, 5, e3.hash)), { code: 'EAUDIT_GAP' });
    await t.rejects(store.appendAudit('box-1', auditChain('box-1', 1, 1, '1'.repeat(64))), { code: 'EAUDIT_CONFLICT' }, 'a different entry 1');
    await t.rejects(store.appendAudit('box-1', auditChain('box-2', 1)), { code: 'EAUDIT_INVALID' });
    t.same(await store.auditEntries('box-1'), [e1, e2, e3], 'entries come back exactly as sent');
  });

  t.test(`${name}: operators have their own tokens, kept hashed, and can be removed`, async (t) => {
    const store = await open(t);
    const alice = await store.addOperator('alice', 'admin');
    t.match(alice.token, /^fho_/);
    await t.rejects(store.addOperator('alice', 'admin'), { code: 'EOPERATOR_EXISTS' });
    await t.rejects(store.addOperator('admin', 'admin'), { code: 'EOPERATOR_EXISTS' }, 'the bootstrap name is taken');
    t.equal(await store.operatorByToken(alice.token), 'alice');
    t.equal(await store.operatorByToken('fho_nobody'), null);
    t.match(await store.operators(), [{ name: 'alice', createdBy: 'admin' }]);
    await store.removeOperator('alice', 'admin');
    t.equal(await store.operatorByToken(alice.token), null, 'a removed operator is locked out');
    await t.rejects(store.removeOperator('alice', 'admin'), { code: 'EOPERATOR_UNKNOWN' });
    t.match((await store.activity()).map((a) => a.action), ['remove-operator', 'add-operator']);
  });

  t.test(`${name}: fleet facts put a failing box first`, async (t) => {
    const store = await open(t);
    for (const box of ['box-a', 'box-b', 'box-c', 'box-d']) await store.enroll(box, 'alice');
    const specA = await publish(store, { box: 'box-a', serial: 1 });
    const specB = await publish(store, { box: 'box-b', serial: 1 });
    await publish(store, { box: 'box-c', serial: 1 });
    await store.addReport('box-a', { jobId: specA.payloadDigest, tier: 'host', outcome: 'succeeded', serial: 1 });
    await store.addReport('box-b', { jobId: specB.payloadDigest, tier: 'host', outcome: 'failed', serial: 1, reason: { code: 'EENGINE', message: 'apply failed' } });
    await store.touch('box-c');
    const view = fleetView(await store.fleetFacts());
    t.same(
      view.map((box) => [box.box, box.state]),
      [
        ['box-b', 'failing'],
        ['box-c', 'drifting'],
        ['box-d', 'new'],
        ['box-a', 'ok'],
      ],
    );
    t.match(view[0]!.tiers, [{ tier: 'host', lastOutcome: 'failed', specSerial: 1, appliedSerial: null, drift: true, reason: { code: 'EENGINE' } }]);
    t.match(view[3]!.tiers, [{ tier: 'host', lastOutcome: 'succeeded', appliedSerial: 1, drift: false }]);
    t.type(view.find((box) => box.box === 'box-c')!.lastContactAt, 'string', 'a poll counts as contact');
  });
}

t.test('postgres: a report sent again is the same report, not a second one', async (t) => {
  const store = await backends.postgres!(t);
  await store.enroll('box-1', 'alice');
  const job = await publish(store, { type: 'job', serial: 1 });
  const request = { jobId: job.payloadDigest, tier: 'host' as const, outcome: 'failed' as const, reason: { code: 'EX', message: 'x' } };
  const first = await store.addReport('box-1', request);
  const again = await store.addReport('box-1', request);
  t.equal(again.id, first.id);
  t.equal((await store.reports()).length, 1);
});

t.test('postgres: text PostgreSQL cannot store is a clear refusal', async (t) => {
  const store = await backends.postgres!(t);
  await store.enroll('box-1', 'alice');
  await t.rejects(store.addReport('box-1', { jobId: 'a\u0000b', tier: 'host', outcome: 'succeeded' }), { code: 'EBAD_REQUEST', status: 400 });
});
