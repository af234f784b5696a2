import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import t from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { HUB_DATA_FILE } from '../../hub/database.js';
import { etagMatches, OPERATOR_TOKEN_FILE, startHub } from '../../hub/server.js';
import { makeEnvelope, OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

interface RawAnswer {
  status: number;
  headers: Headers;
  body: string;
}

async function raw(url: string, init: RequestInit = {}): Promise<RawAnswer> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const errorCode = (answer: RawAnswer) => (JSON.parse(answer.body) as { error: { code: string; message: string } }).error.code;

t.test('a published spec is served with an ETag and a conditional GET gets 304', async (t) => {
  const { hub, operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  const envelope = makeEnvelope({ serial: 1 });
  const published = await operator.publish(envelope);
  t.match(published, { box: 'box-1', tier: 'host', type: 'spec', serial: 1 });

  const first = await box.fetchSpec('box-1', 'host');
  t.equal(first.status, 'changed');
  if (first.status !== 'changed') return;
  t.equal(first.envelope, envelope, 'the envelope is served byte for byte');
  t.equal(first.etag, `"${createHash('sha256').update(envelope).digest('hex')}"`, 'the ETag is the sha256 of the envelope bytes');
  t.equal(published.digest, createHash('sha256').update(envelope).digest('hex'));
  const payload = (JSON.parse(envelope) as { payload: string }).payload;
  t.equal(published.payloadDigest, createHash('sha256').update(payload).digest('hex'), 'the payload digest identifies the envelope');
  t.equal(first.serial, 1);

  const again = await box.fetchSpec('box-1', 'host', { etag: first.etag });
  t.same(again, { status: 'unchanged', etag: first.etag });

  const { apiKey } = await operator.enrollBox('box-9');
  const { digest } = await operator.publish(makeEnvelope({ box: 'box-9' }));
  const conditional = await raw(`${hub.url}/v1/boxes/box-9/tiers/host/spec`, { headers: { ...bearer(apiKey), 'if-none-match': `"${digest}"` } });
  t.equal(conditional.status, 304, 'on the wire: 304');
  t.equal(conditional.body, '', 'a 304 has no body');
});

t.test('a spec not yet published is "none", and another tier is separate', async (t) => {
  const { operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  t.same(await box.fetchSpec('box-1', 'host'), { status: 'none' });
  await operator.publish(makeEnvelope({ tier: 'guest' }));
  t.same(await box.fetchSpec('box-1', 'host'), { status: 'none' });
  t.equal((await box.fetchSpec('box-1', 'guest')).status, 'changed');
});

t.test('a long poll wakes when a new envelope is published for its box and tier', async (t) => {
  const { operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  await operator.publish(makeEnvelope({ serial: 1 }));
  const current = await box.fetchSpec('box-1', 'host');
  if (current.status !== 'changed') throw new Error('expected a spec');

  const poll = box.fetchSpec('box-1', 'host', { etag: current.etag, waitSeconds: 30 });
  // Publishing for another box or a job for the same stream must not answer the spec poll.
  await enroll('box-2');
  await operator.publish(makeEnvelope({ box: 'box-2', serial: 1 }));
  await operator.publish(makeEnvelope({ type: 'job', serial: 2 }));
  const next = makeEnvelope({ serial: 3 });
  await operator.publish(next);
  const woken = await poll;
  t.equal(woken.status, 'changed');
  t.equal(woken.status === 'changed' && woken.envelope, next);
});

t.test('a long poll with nothing new times out to 304', async (t) => {
  const { operator, enroll } = await startTestHub(t, { maxWaitSeconds: 1 });
  const box = await enroll('box-1');
  await operator.publish(makeEnvelope({ serial: 1 }));
  const current = await box.fetchSpec('box-1', 'host');
  if (current.status !== 'changed') throw new Error('expected a spec');
  // Asks for 30 s; the hub caps the wait at its maximum (1 s here).
  const result = await box.fetchSpec('box-1', 'host', { etag: current.etag, waitSeconds: 30 });
  t.same(result, { status: 'unchanged', etag: current.etag });
});

t.test('a long poll before any publish waits for the first one', async (t) => {
  const { operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  const poll = box.fetchSpec('box-1', 'host', { waitSeconds: 30 });
  await operator.publish(makeEnvelope({ serial: 1 }));
  t.equal((await poll).status, 'changed');
});

t.test('pending jobs are listed with ids, polled conditionally, and leave the list when reported', async (t) => {
  const { operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  const empty = await box.fetchJobs('box-1', 'host');
  t.same(empty.status === 'changed' && empty.jobs, []);

  const poll = box.fetchJobs('box-1', 'host', { etag: empty.etag, waitSeconds: 30 });
  const job = makeEnvelope({ type: 'job', serial: 1, body: { action: 'snapshot' } });
  const published = await operator.publish(job);
  const woken = await poll;
  if (woken.status !== 'changed') throw new Error('expected the job list to change');
  t.same(woken.jobs, [{ id: published.payloadDigest, serial: 1, envelope: job }]);
  t.same(await box.fetchJobs('box-1', 'host', { etag: woken.etag }), { status: 'unchanged', etag: woken.etag });

  await box.postReport('box-1', { jobId: published.payloadDigest, tier: 'host', outcome: 'succeeded', serial: 1, durationMs: 1200, engine: { created: 1, updated: 0, deleted: 0, same: 4 } });
  const after = await box.fetchJobs('box-1', 'host', { etag: woken.etag });
  t.same(after.status === 'changed' && after.jobs, []);
});

t.test('reports are stored and listed for the operator, newest first, per box', async (t) => {
  const { operator, enroll } = await startTestHub(t);
  const one = await enroll('box-1');
  const two = await enroll('box-2');
  await one.postReport('box-1', { jobId: 'j1', tier: 'host', outcome: 'succeeded', engine: { created: 2, updated: 1, deleted: 0, same: 3 }, durationMs: 5 });
  await one.postReport('box-1', { jobId: 'j2', tier: 'host', outcome: 'failed', reason: { code: 'EENGINE', message: 'pulumi up failed' } });
  await two.postReport('box-2', { jobId: 'j3', tier: 'guest', outcome: 'rejected', reason: { code: 'EEXPIRED', message: 'expired' } });

  const forOne = await operator.listReports({ box: 'box-1' });
  t.same(
    forOne.map((r) => r.jobId),
    ['j2', 'j1'],
  );
  t.match(forOne[1], { box: 'box-1', outcome: 'succeeded', engine: { created: 2, updated: 1, deleted: 0, same: 3 }, durationMs: 5 });
  t.match(forOne[0], { reason: { code: 'EENGINE' } });
  t.equal((await operator.listReports()).length, 3);

  // a reason's detail lines (the engine's diagnostics per resource) are kept; a bad one is refused by name
  await one.postReport('box-1', { jobId: 'j4', tier: 'host', outcome: 'failed', reason: { code: 'EENGINE_RUN', message: 'the engine failed', details: ['error: web (docker:index/container:Container): no such image'] } });
  t.match((await operator.listReports({ box: 'box-1' }))[0], { jobId: 'j4', reason: { details: ['error: web (docker:index/container:Container): no such image'] } });
  await t.rejects(
    one.postReport('box-1', { jobId: 'j5', tier: 'host', outcome: 'failed', reason: { code: 'EENGINE_RUN', message: 'x', details: [42] as never } }),
    { message: /reason\.details: expected at most 50 strings/ },
  );
  t.equal((await operator.listReports({ limit: 1 })).length, 1);
});

t.test('requests without a token, or with a wrong one, get 401 with a reason', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  await enroll('box-1');
  await enroll('box-2');
  const two = await (async () => {
    const response = await fetch(`${hub.url}/v1/boxes`, { method: 'POST', headers: { ...bearer(OPERATOR_TOKEN), 'content-type': 'application/json' }, body: JSON.stringify({ box: 'box-3' }) });
    return ((await response.json()) as { apiKey: string }).apiKey;
  })();

  const cases: [string, RequestInit, string][] = [
    [`${hub.url}/v1/boxes/box-1/tiers/host/spec`, {}, 'EAUTH_MISSING'],
    [`${hub.url}/v1/boxes/box-1/tiers/host/spec`, { headers: bearer('wrong') }, 'EAUTH_INVALID'],
    [`${hub.url}/v1/boxes/box-1/tiers/host/spec`, { headers: bearer(two) }, 'EAUTH_INVALID'],
    [`${hub.url}/v1/boxes/nobody/tiers/host/spec`, { headers: bearer(two) }, 'EAUTH_INVALID'],
    [`${hub.url}/v1/envelopes`, { method: 'POST', headers: bearer(two), body: makeEnvelope() }, 'EAUTH_INVALID'],
    [`${hub.url}/v1/reports`, { headers: { authorization: 'Basic abc' } }, 'EAUTH_INVALID'],
  ];
  for (const [url, init, code] of cases) {
    const answer = await raw(url, init);
    t.equal(answer.status, 401, `${init.method ?? 'GET'} ${new URL(url).pathname} with ${code}`);
    t.equal(errorCode(answer), code);
  }
});

t.test('a box key is for its own box only, and an operator token opens no box endpoint', async (t) => {
  const { enroll } = await startTestHub(t);
  const one = await enroll('box-1');
  await enroll('box-2');
  await t.rejects(one.fetchSpec('box-2', 'host'), { name: 'HubAuthError', code: 'EHUB_AUTH', kind: 'stalled', status: 401 });
});

t.test('a body over the limit gets 413', async (t) => {
  const { hub } = await startTestHub(t, { maxBodyBytes: 1024 });
  const answer = await raw(`${hub.url}/v1/envelopes`, { method: 'POST', headers: bearer(OPERATOR_TOKEN), body: 'x'.repeat(4096) });
  t.equal(answer.status, 413);
  t.equal(errorCode(answer), 'EBODY_TOO_LARGE');
});

t.test('a chunked body over the limit gets 413 too', async (t) => {
  const { hub } = await startTestHub(t, { maxBodyBytes: 1024 });
  const url = new URL(`${hub.url}/v1/envelopes`);
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: bearer(OPERATOR_TOKEN) }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', reject);
    for (let i = 0; i < 8; i++) req.write('x'.repeat(512));
    req.end();
  });
  t.equal(status, 413);
});

t.test('malformed JSON gets 400 and an unroutable envelope names the field', async (t) => {
  const { hub } = await startTestHub(t);
  const headers = { ...bearer(OPERATOR_TOKEN), 'content-type': 'application/json' };
  const badJson = await raw(`${hub.url}/v1/boxes`, { method: 'POST', headers, body: '{"box": ' });
  t.equal(badJson.status, 400);
  t.equal(errorCode(badJson), 'EBAD_JSON');

  const badEnvelope = await raw(`${hub.url}/v1/envelopes`, { method: 'POST', headers, body: JSON.stringify({ payload: JSON.stringify({ type: 'spec', box: 'box-1', tier: 'moon', serial: 1 }), signatures: [] }) });
  t.equal(badEnvelope.status, 400);
  t.equal(errorCode(badEnvelope), 'EENVELOPE_MALFORMED');
  t.match(badEnvelope.body, /payload\.tier/);

  const notJsonEnvelope = await raw(`${hub.url}/v1/envelopes`, { method: 'POST', headers, body: 'hello' });
  t.equal(errorCode(notJsonEnvelope), 'EENVELOPE_MALFORMED');

  const badWait = await raw(`${hub.url}/v1/health?wait=x`);
  t.equal(badWait.status, 200, 'wait is ignored where there is nothing to wait for');
});

t.test('a malformed report or audit upload is refused naming the field', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  await enroll('box-1');
  const box = await enroll('box-2');
  await t.rejects(box.postReport('box-2', { jobId: 'j', tier: 'host', outcome: 'failed' }), { name: 'HubRequestError', code: 'EBAD_REQUEST', status: 400, message: /reason/ });
  await t.rejects(box.postReport('box-2', { jobId: 'j', tier: 'host', outcome: 'succeeded', engine: { created: -1, updated: 0, deleted: 0, same: 0 } }), { code: 'EBAD_REQUEST', message: /engine\.created/ });
  await t.rejects(box.postReport('box-2', { jobId: 'j', tier: 'moon' as 'host', outcome: 'succeeded' }), { code: 'EBAD_REQUEST', message: /tier/ });
  await t.rejects(box.postAudit('box-2', [{ seq: 1 } as never]), { code: 'EBAD_REQUEST', message: /entries\[0\]/ });
  t.ok(hub.url);
});

t.test('unknown boxes and paths get 404 and wrong methods 405', async (t) => {
  const { hub, operator } = await startTestHub(t);
  await t.rejects(operator.publish(makeEnvelope({ box: 'ghost' })), { name: 'HubRequestError', code: 'EBOX_UNKNOWN', status: 404 });
  await t.rejects(operator.listReports({ box: 'ghost' }), { code: 'EBOX_UNKNOWN', status: 404 });
  await t.rejects(operator.listAudit('ghost'), { code: 'EBOX_UNKNOWN', status: 404 });
  const unknownPath = await raw(`${hub.url}/v2/anything`);
  t.equal(unknownPath.status, 404);
  t.equal(errorCode(unknownPath), 'ENOT_FOUND');
  const wrongMethod = await raw(`${hub.url}/v1/envelopes`, { method: 'DELETE', headers: bearer(OPERATOR_TOKEN) });
  t.equal(wrongMethod.status, 405);
  t.equal(errorCode(wrongMethod), 'EMETHOD');
  t.equal(wrongMethod.headers.get('felhom-hub-protocol'), '1', 'every answer names the protocol version');
});

t.test('a publish whose serial is not above the last one for its box and tier gets 409', async (t) => {
  const { operator, enroll } = await startTestHub(t);
  await enroll('box-1');
  await operator.publish(makeEnvelope({ serial: 5 }));
  await t.rejects(operator.publish(makeEnvelope({ serial: 5, body: { other: true } })), { name: 'HubRequestError', code: 'ESERIAL_NOT_INCREASING', status: 409, kind: 'stalled' });
  await t.rejects(operator.publish(makeEnvelope({ type: 'job', serial: 4 })), { code: 'ESERIAL_NOT_INCREASING' }, 'jobs share the serial sequence');
  await operator.publish(makeEnvelope({ serial: 1, tier: 'guest' }));
  t.pass('another tier has its own sequence');
});

t.test('enrolling returns the key once; the hub keeps only its hash', async (t) => {
  const { dataDir, operator } = await startTestHub(t);
  const enrolled = await operator.enrollBox('box-1');
  t.match(enrolled.apiKey, /^fhb_[A-Za-z0-9_-]{43}$/);
  const stored = await readFile(join(dataDir, HUB_DATA_FILE), 'utf8');
  t.notMatch(stored, enrolled.apiKey, 'the key itself is not on disk');
  t.match(stored, createHash('sha256').update(enrolled.apiKey).digest('hex'));
  await t.rejects(operator.enrollBox('box-1'), { code: 'EBOX_EXISTS', status: 409 });
  await t.rejects(operator.enrollBox('Not A Box'), { code: 'EBAD_REQUEST', status: 400 });
  t.same(
    (await operator.listBoxes()).boxes.map((b) => b.box),
    ['box-1'],
  );
});

t.test('the data survives a restart on the same directory', async (t) => {
  const dataDir = t.testdir();
  const first = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  const operator = new HubClient({ url: first.url, token: OPERATOR_TOKEN });
  const { apiKey } = await operator.enrollBox('box-1');
  const published = await operator.publish(makeEnvelope({ serial: 7 }));
  await new HubClient({ url: first.url, token: apiKey }).postReport('box-1', { jobId: 'j1', tier: 'host', outcome: 'succeeded' });
  await first.close();

  const second = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  t.teardown(() => second.close());
  const box = new HubClient({ url: second.url, token: apiKey });
  const spec = await box.fetchSpec('box-1', 'host');
  t.equal(spec.status === 'changed' && spec.etag, `"${published.digest}"`, 'the key and the spec survived');
  t.equal((await new HubClient({ url: second.url, token: OPERATOR_TOKEN }).listReports()).length, 1, 'the report survived');
  await t.rejects(new HubClient({ url: second.url, token: OPERATOR_TOKEN }).publish(makeEnvelope({ serial: 7 })), { code: 'ESERIAL_NOT_INCREASING' }, 'the serial floor survived');
});

t.test('a corrupt data file stops the hub with a clear error naming the file', async (t) => {
  const dataDir = t.testdir({ [HUB_DATA_FILE]: '{"version":1,"boxes":{' });
  await t.rejects(startHub({ dataDir, operatorToken: OPERATOR_TOKEN }), { name: 'StoreCorruptError', code: 'ESTORE_CORRUPT', file: join(dataDir, HUB_DATA_FILE) });
  t.equal(await readFile(join(dataDir, HUB_DATA_FILE), 'utf8'), '{"version":1,"boxes":{', 'the file is left for a person to inspect');
});

t.test('without a given token the hub generates one into operator-token with mode 0600 and reuses it', async (t) => {
  const dataDir = t.testdir();
  const first = await startHub({ dataDir });
  const file = join(dataDir, OPERATOR_TOKEN_FILE);
  t.equal(first.operatorTokenFile, file);
  t.equal((await stat(file)).mode & 0o777, 0o600);
  const token = (await readFile(file, 'utf8')).trim();
  t.ok((await new HubClient({ url: first.url, token }).listBoxes()).boxes);
  await first.close();
  const second = await startHub({ dataDir });
  t.teardown(() => second.close());
  t.equal((await readFile(file, 'utf8')).trim(), token, 'the token is kept across restarts');
  t.ok(await new HubClient({ url: second.url, token }).listBoxes());
});

t.test('audit entries uploaded by a box must continue the chain the hub holds', async (t) => {
  const { AuditLog } = await import('../../runner/state/audit.js');
  const { operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  const file = join(t.testdir(), 'audit.jsonl');
  const log = await AuditLog.open(file);
  const record = { actor: 'agent', action: 'spec.apply', box: 'box-1', tier: 'host' as const, envelopeDigest: null, outcome: 'succeeded' as const };
  const e1 = await log.append(record);
  const e2 = await log.append(record);
  const e3 = await log.append(record);

  t.same(await box.postAudit('box-1', [e1, e2]), { accepted: 2, head: { seq: 2, hash: e2.hash } });
  t.same(await box.postAudit('box-1', [e2, e3]), { accepted: 1, head: { seq: 3, hash: e3.hash } }, 'a retried entry is accepted again unchanged');
  await t.rejects(box.postAudit('box-1', [{ ...e3, seq: 5 }]), { code: 'EAUDIT_INVALID' }, 'an entry whose hash does not match is refused');
  await t.rejects(box.postAudit('box-1', [{ ...e1, outcome: 'failed' }]), { code: 'EAUDIT_INVALID' });
  t.same(
    (await operator.listAudit('box-1')).map((e) => e.seq),
    [1, 2, 3],
  );
});

t.test('closing the hub answers parked long polls with 503 so boxes back off', async (t) => {
  const dataDir = t.testdir();
  const hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN });
  const operator = new HubClient({ url: hub.url, token: OPERATOR_TOKEN });
  const { apiKey } = await operator.enrollBox('box-1');
  const box = new HubClient({ url: hub.url, token: apiKey });
  const poll = box.fetchSpec('box-1', 'host', { waitSeconds: 30 });
  // Let the request reach the hub before closing it.
  while (hub.parkedPolls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  await hub.close();
  await t.rejects(poll, { name: 'HubUnavailableError', code: 'EHUB_UNAVAILABLE', kind: 'waiting' });
});

t.test('If-None-Match matching follows RFC 9110 list syntax', async (t) => {
  t.ok(etagMatches('"abc"', 'abc'));
  t.ok(etagMatches('W/"abc"', 'abc'));
  t.ok(etagMatches('"x", "abc"', 'abc'));
  t.ok(etagMatches('*', 'abc'));
  t.notOk(etagMatches('abc', 'abc'), 'an unquoted tag is not a match');
  t.notOk(etagMatches(undefined, 'abc'));
});
