/**
 * Enrollment by one-time code at the real hub server, on both stores: the code is stored hashed,
 * works once, expires unused, can be regenerated before completion, and guessing is limited per
 * box (in the store, surviving a restart) and per address (in the hub's memory).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import t, { type Test } from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { startHub } from '../../hub/server.js';
import { CODE_FAILURE_WINDOW_MS, MAX_CODE_FAILURES } from '../../runner/hub/protocol.js';
import { enrollmentCodeDigest, newEnrollmentCode } from '../../runner/enrollment/code.js';
import { issueCode, registration } from '../helpers/enrollment.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';
import { testKey } from '../helpers/keys.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let postgres: TestPostgres;
t.before(async () => {
  postgres = await startPostgres(t);
});

interface Clock {
  now: number;
  readonly clock: () => Date;
}
function testClock(): Clock {
  const state = { now: Date.now(), clock: () => new Date(state.now) };
  return state;
}

const backends: Record<string, (t: Test, clock: Clock) => Promise<{ hub: Awaited<ReturnType<typeof startTestHub>>; restart: () => Promise<HubClient>; dump: () => Promise<string> }>> = {
  lowdb: async (t, clock) => {
    const dataDir = t.testdir();
    const hub = await startTestHub(t, { dataDir, clock: clock.clock });
    return {
      hub,
      dump: () => readFile(join(dataDir, 'hub.json'), 'utf8'),
      restart: async () => {
        await hub.hub.close();
        const again = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN, clock: clock.clock });
        t.teardown(() => again.close());
        return new HubClient({ url: again.url });
      },
    };
  },
  postgres: async (t, clock) => {
    const database = await postgres.createDatabase();
    const hub = await startTestHub(t, { database, clock: clock.clock });
    return {
      hub,
      dump: async () => {
        const client = new pg.Client({ connectionString: database });
        await client.connect();
        try {
          return JSON.stringify((await client.query('SELECT * FROM hub_enrollments')).rows);
        } finally {
          await client.end();
        }
      },
      restart: async () => {
        await hub.hub.close();
        const again = await startHub({ database, operatorToken: OPERATOR_TOKEN, clock: clock.clock });
        t.teardown(() => again.close());
        return new HubClient({ url: again.url });
      },
    };
  },
};

for (const [backend, open] of Object.entries(backends)) {
  t.test(backend, async (t) => {
    t.test('a code works once: it registers the box credential, and a second redemption is refused', async (t) => {
      const clock = testClock();
      const { hub } = await open(t, clock);
      const issued = await issueCode(hub.operator, 'box-1', { now: clock.clock() });
      t.match(issued, { box: 'box-1', regenerated: false });
      t.equal((await hub.operator.enrollmentStatus('box-1')).state, 'pending');
      const anonymous = new HubClient({ url: hub.hub.url });
      const reg = await registration();
      // Before redemption no key opens the box's endpoints.
      await t.rejects(new HubClient({ url: hub.hub.url, token: reg.credential }).fetchSpec('box-1', 'host'), { code: 'EHUB_AUTH' });
      const answer = await anonymous.redeemEnrollmentCode('box-1', { code: issued.code, ...reg });
      t.equal(answer.envelope, issued.envelope, 'the hub serves the envelope exactly as the operator signed it');
      const box = new HubClient({ url: hub.hub.url, token: reg.credential });
      t.same(await box.fetchSpec('box-1', 'host'), { status: 'none' }, 'the registered credential works');
      t.equal((await box.fetchEnrollmentConfig('box-1')).envelope, issued.envelope, 'the box fetches the configuration again with its credential');
      await t.rejects(anonymous.redeemEnrollmentCode('box-1', { code: issued.code, ...(await registration('fhb_other')) }), { code: 'EENROLL_CODE_USED', status: 409 });
      await t.rejects(new HubClient({ url: hub.hub.url, token: 'fhb_other' }).fetchSpec('box-1', 'host'), { code: 'EHUB_AUTH' }, 'a second redemption registered nothing');
      const status = await hub.operator.enrollmentStatus('box-1');
      t.match(status, { state: 'redeemed', agentPublicKey: reg.agentPublicKey, issuedBy: 'admin' });
      t.match(await box.completeEnrollment('box-1'), { completedAt: String });
      t.equal((await hub.operator.enrollmentStatus('box-1')).state, 'completed');
      t.match((await hub.operator.listActivity()).map((entry) => entry.action), ['enroll']);
    });

    t.test('the hub stores the hash of the code, never the code', async (t) => {
      const clock = testClock();
      const { hub, dump } = await open(t, clock);
      const issued = await issueCode(hub.operator, 'box-1', { now: clock.clock() });
      const secret = issued.code.split('.')[1]!;
      const text = await dump();
      t.notOk(text.includes(secret), 'the secret is nowhere in what the hub stored');
      t.ok(text.includes(enrollmentCodeDigest(issued.code)), 'its sha256 is');
    });

    t.test('an unused code expires at its TTL', async (t) => {
      const clock = testClock();
      const { hub } = await open(t, clock);
      const issued = await issueCode(hub.operator, 'box-1', { now: clock.clock(), ttlMs: 60 * 60_000 });
      clock.now += 60 * 60_000;
      t.equal((await hub.operator.enrollmentStatus('box-1')).state, 'expired');
      await t.rejects(new HubClient({ url: hub.hub.url }).redeemEnrollmentCode('box-1', { code: issued.code, ...(await registration()) }), { code: 'EENROLL_CODE_EXPIRED', status: 410 });
      const reg = await registration();
      await t.rejects(new HubClient({ url: hub.hub.url, token: reg.credential }).fetchSpec('box-1', 'host'), { code: 'EHUB_AUTH' }, 'nothing was registered');
    });

    t.test('regenerate replaces an unused or half-used code and revokes what the old one registered; not after completion', async (t) => {
      const clock = testClock();
      const { hub } = await open(t, clock);
      const first = await issueCode(hub.operator, 'box-1', { now: clock.clock() });
      const anonymous = new HubClient({ url: hub.hub.url });
      const reg = await registration();
      await anonymous.redeemEnrollmentCode('box-1', { code: first.code, ...reg });
      await t.rejects(issueCode(hub.operator, 'box-1', { now: clock.clock() }), { code: 'EBOX_EXISTS', status: 409 }, 'without --regenerate an existing box is refused');
      const second = await issueCode(hub.operator, 'box-1', { now: clock.clock(), regenerate: true });
      t.equal(second.regenerated, true);
      await t.rejects(new HubClient({ url: hub.hub.url, token: reg.credential }).fetchSpec('box-1', 'host'), { code: 'EHUB_AUTH' }, 'the credential registered with the old code is revoked');
      await t.rejects(anonymous.redeemEnrollmentCode('box-1', { code: first.code, ...reg }), { code: 'EHUB_AUTH', hubCode: 'EENROLL_CODE_INVALID' }, 'the old code no longer works');
      const reg2 = await registration('fhb_second');
      await anonymous.redeemEnrollmentCode('box-1', { code: second.code, ...reg2 });
      await new HubClient({ url: hub.hub.url, token: reg2.credential }).completeEnrollment('box-1');
      await t.rejects(issueCode(hub.operator, 'box-1', { now: clock.clock(), regenerate: true }), { code: 'EENROLL_COMPLETE', status: 409 });
      await t.rejects(issueCode(hub.operator, 'box-9', { now: clock.clock(), regenerate: true }), { code: 'EBOX_UNKNOWN', status: 404 });
      await hub.operator.enrollBox('box-key');
      await t.rejects(issueCode(hub.operator, 'box-key', { now: clock.clock(), regenerate: true }), { code: 'EENROLL_NO_CODE' }, 'a box enrolled with an API key has no code to regenerate');
      t.same((await hub.operator.listActivity()).map((entry) => entry.action).filter((action) => action !== 'enroll'), ['regenerate-code']);
    });

    t.test('guessing is limited per box, in the store: a restarted hub still refuses, the right code too, until the window passes', async (t) => {
      const clock = testClock();
      const { hub, restart } = await open(t, clock);
      const issued = await issueCode(hub.operator, 'box-1', { now: clock.clock() });
      const anonymous = new HubClient({ url: hub.hub.url });
      const reg = await registration();
      const wrong = newEnrollmentCode('box-1', (await testKey('alice')).fingerprint).code;
      for (let attempt = 0; attempt < MAX_CODE_FAILURES; attempt++) {
        await t.rejects(anonymous.redeemEnrollmentCode('box-1', { code: wrong, ...reg }), { hubCode: 'EENROLL_CODE_INVALID' });
      }
      await t.rejects(anonymous.redeemEnrollmentCode('box-1', { code: issued.code, ...reg }), { code: 'EHUB_UNAVAILABLE', status: 429, message: /too many wrong codes from this address/ });
      // A new hub process forgets addresses, not the box's count.
      const again = await restart();
      await t.rejects(again.redeemEnrollmentCode('box-1', { code: issued.code, ...reg }), { status: 429, message: /too many wrong codes for box box-1/ });
      clock.now += CODE_FAILURE_WINDOW_MS;
      t.equal((await again.redeemEnrollmentCode('box-1', { code: issued.code, ...reg })).box, 'box-1', 'after the window the right code works');
    });

    t.test('guessing is limited per address across boxes, unknown boxes included', async (t) => {
      const clock = testClock();
      const { hub } = await open(t, clock);
      const issued = await issueCode(hub.operator, 'box-1', { now: clock.clock() });
      const anonymous = new HubClient({ url: hub.hub.url });
      const reg = await registration();
      for (let attempt = 0; attempt < MAX_CODE_FAILURES; attempt++) {
        const box = `nobox-${attempt}`;
        await t.rejects(anonymous.redeemEnrollmentCode(box, { code: newEnrollmentCode(box, (await testKey('alice')).fingerprint).code, ...reg }), { hubCode: 'EENROLL_CODE_INVALID', message: new RegExp(`not valid for box ${box}`) });
      }
      const response = await fetch(`${hub.hub.url}/v1/boxes/box-1/enrollment`, { method: 'POST', body: JSON.stringify({ code: issued.code, ...reg }) });
      t.equal(response.status, 429);
      t.match(response.headers.get('retry-after'), /^\d+$/);
      t.match(await response.json(), { error: { code: 'EENROLL_THROTTLED' } });
      clock.now += CODE_FAILURE_WINDOW_MS;
      t.equal((await anonymous.redeemEnrollmentCode('box-1', { code: issued.code, ...reg })).box, 'box-1');
    });

    t.test('bad requests are refused naming the field', async (t) => {
      const clock = testClock();
      const { hub } = await open(t, clock);
      const issued = await issueCode(hub.operator, 'box-1', { now: clock.clock() });
      const post = (path: string, body: unknown, token?: string) =>
        fetch(`${hub.hub.url}${path}`, { method: 'POST', body: JSON.stringify(body), headers: token ? { authorization: `Bearer ${token}` } : {} }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: { code: string; message: string } } }));
      const reg = await registration();
      t.match(await post('/v1/boxes/box-1/enrollment', { code: issued.code, credentialHash: 'nope', agentPublicKey: reg.agentPublicKey }), { status: 400, body: { error: { message: /^credentialHash:/ } } });
      t.match(await post('/v1/boxes/box-1/enrollment', { code: issued.code, credentialHash: reg.credentialHash, agentPublicKey: 'x' }), { status: 400, body: { error: { message: /^agentPublicKey:/ } } });
      t.match(await post('/v1/boxes/box-1/enrollment', { credentialHash: reg.credentialHash, agentPublicKey: reg.agentPublicKey }), { status: 400, body: { error: { message: /^code:/ } } });
      t.match(await post('/v1/boxes/box-2/enrollment/code', { codeHash: 'x', expiresAt: clock.clock().toISOString(), envelope: issued.envelope }, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^codeHash:/ } } });
      const codeHash = enrollmentCodeDigest('x');
      t.match(await post('/v1/boxes/box-2/enrollment/code', { codeHash, expiresAt: new Date(clock.now - 1000).toISOString(), envelope: issued.envelope }, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^expiresAt:/ } } });
      t.match(await post('/v1/boxes/box-2/enrollment/code', { codeHash, expiresAt: new Date(clock.now + 31 * 86_400_000).toISOString(), envelope: issued.envelope }, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^expiresAt:/ } } });
      t.match(await post('/v1/boxes/box-2/enrollment/code', { codeHash, expiresAt: new Date(clock.now + 1000).toISOString(), envelope: issued.envelope }, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^envelope: expected the enrollment configuration of box box-2/ } } });
      t.match(await post('/v1/boxes/box-2/enrollment/code', { codeHash, expiresAt: new Date(clock.now + 1000).toISOString() }, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^envelope:/ } } });
      t.match(await post('/v1/boxes/box-1/enrollment/code', { codeHash, expiresAt: new Date(clock.now + 1000).toISOString(), envelope: issued.envelope, regenerate: 'yes' }, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^regenerate:/ } } });
      t.match(await post('/v1/boxes/Bad_Box/enrollment/code', {}, OPERATOR_TOKEN), { status: 400, body: { error: { message: /^box:/ } } });
      t.match(await post('/v1/boxes/box-1/enrollment/code', {}, 'wrong'), { status: 401 });
      t.match(await post('/v1/boxes/Bad_Box/enrollment', { code: issued.code, ...reg }), { status: 401, body: { error: { code: 'EENROLL_CODE_INVALID' } } });
      await t.rejects(hub.operator.enrollmentStatus('box-9'), { code: 'EENROLL_NO_CODE', status: 404 });
      const box = new HubClient({ url: hub.hub.url, token: reg.credential });
      await new HubClient({ url: hub.hub.url }).redeemEnrollmentCode('box-1', { code: issued.code, ...reg });
      await hub.operator.enrollBox('box-key');
      const { apiKey } = await hub.operator.rotateBoxKey('box-key');
      await t.rejects(new HubClient({ url: hub.hub.url, token: apiKey }).fetchEnrollmentConfig('box-key'), { code: 'EENROLL_NOT_REDEEMED', status: 404 });
      await t.rejects(new HubClient({ url: hub.hub.url, token: apiKey }).completeEnrollment('box-key'), { code: 'EENROLL_NOT_REDEEMED', status: 409 });
      t.ok(box);
    });
  });
}
