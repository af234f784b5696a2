// What the operator's command line needs of the hub: the last published serial of a box and
// tier (felhom sign --serial next), and reports that tell replacements from updates and carry the
// engine's first error lines.
import t from 'tap';
import { makeEnvelope, startTestHub } from '../helpers/hub.js';

t.test('GET /v1/boxes/{box}/tiers/{tier}/serial answers the last published serial, spec or job', async (t) => {
  const { enroll, operator } = await startTestHub(t);
  const box = await enroll('box-1');
  t.equal(await operator.lastSerial('box-1', 'host'), 0, 'nothing published yet');
  await operator.publish(makeEnvelope({ serial: 4 }));
  await operator.publish(makeEnvelope({ type: 'job', serial: 6 }));
  t.equal(await operator.lastSerial('box-1', 'host'), 6);
  t.equal(await operator.lastSerial('box-1', 'guest'), 0, 'per tier');
  await t.rejects(operator.lastSerial('ghost', 'host'), { code: 'EBOX_UNKNOWN', status: 404 });
  await t.rejects(operator.lastSerial('box-1', 'moon' as 'host'), { code: 'EBAD_REQUEST', status: 400 });
  await t.rejects(box.lastSerial('box-1', 'host'), { name: 'HubAuthError' }, 'operator only');
});

t.test('a report keeps its replaced count and engine error lines; old reports without them still parse', async (t) => {
  const { enroll, operator } = await startTestHub(t);
  const box = await enroll('box-1');
  await box.postReport('box-1', { jobId: 'old', tier: 'host', outcome: 'succeeded', engine: { created: 1, updated: 2, deleted: 0, same: 0 } });
  await box.postReport('box-1', {
    jobId: 'new',
    tier: 'host',
    outcome: 'failed',
    engine: { created: 0, updated: 1, replaced: 2, deleted: 0, same: 5 },
    reason: { code: 'EENGINE_RUN', message: 'the engine failed' },
    errors: ['guest-customer: storage full'],
  });
  const [latest, older] = await operator.listReports({ box: 'box-1' });
  t.match(latest, { jobId: 'new', engine: { updated: 1, replaced: 2 }, errors: ['guest-customer: storage full'] });
  t.same(older!.engine, { created: 1, updated: 2, deleted: 0, same: 0 });
  t.notOk('errors' in older!);
  await t.rejects(box.postReport('box-1', { jobId: 'j', tier: 'host', outcome: 'succeeded', engine: { created: 0, updated: 0, replaced: -1, deleted: 0, same: 0 } }), { code: 'EBAD_REQUEST', message: /engine\.replaced/ });
  await t.rejects(box.postReport('box-1', { jobId: 'j', tier: 'host', outcome: 'succeeded', errors: 'boom' as never }), { code: 'EBAD_REQUEST', message: /errors/ });
});
