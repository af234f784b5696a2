// The agent against a real hub and the real engine, with the dynamic-provider test program:
// publish → pull → verify → engine → report → audit, and what a second cycle costs.
import t from 'tap';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { Journal } from '../../../runner/state/journal.js';
import { agentWorld, boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { testKey } from '../../helpers/keys.js';

t.test('a published spec is pulled, verified, applied by the engine, reported and audited', async (t) => {
  const world = await agentWorld(t);
  const alice = await testKey('alice');
  await world.publish({ serial: 1, body: boxSpec() as never });

  // when the agent runs one cycle
  const agent = await world.agent();
  const first = await agent.cycle();

  // then the engine applied the spec: one file per guest and per app
  t.equal(first.status, 'done', 'the cycle did work');
  t.equal(first.engineRuns, 1, 'one engine operation ran');
  t.equal(world.counter.invocations, 1, 'the program ran once');
  t.match(first.items, [{ serial: 1, action: 'apply', outcome: 'succeeded', counts: { create: 10 } }], 'stack, three storages, guest and five apps were created');
  const files = (await readdir(world.outputDir)).sort();
  t.same(files, ['app-cloud.json', 'app-docs.json', 'app-media.json', 'app-photos.json', 'app-vault.json', 'guest-customer.json', 'storage-nas-backup.json', 'storage-offsite.json', 'storage-usb-media.json'], 'the engine wrote the files');

  // then the hub has the report and the audit entries, and the local chain verifies
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.equal(reports.length, 1, 'one report');
  t.match(reports[0], { jobId: first.items[0]!.digest, outcome: 'succeeded', serial: 1, engine: { created: 10, updated: 0, deleted: 0 } }, 'the report carries the outcome and counts');
  const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
  t.ok(audit.ok, 'the audit chain verifies');
  t.match(audit.entries, [
    { action: 'spec.apply', outcome: 'accepted', actor: alice.fingerprint, envelopeDigest: first.items[0]!.digest },
    { action: 'spec.apply', outcome: 'succeeded', actor: alice.fingerprint },
  ], 'accepted then succeeded, signed by alice');
  t.equal((await world.hub.operator.listAudit(BOX)).length, 2, 'the audit entries reached the hub');
  const journal = await Journal.open(world.stateDir);
  t.match(journal.get(first.items[0]!.digest), { state: 'succeeded', history: [{ state: 'received' }, { state: 'verified' }, { state: 'running' }, { state: 'succeeded' }] }, 'the journal shows every step');

  // when a second cycle finds nothing new, then no engine runs and nothing is reported
  const second = await agent.cycle();
  t.equal(second.status, 'idle', 'nothing new');
  t.equal(second.engineRuns, 0, 'no engine operation');
  t.equal(world.counter.invocations, 1, 'the program did not run again');
  t.equal((await world.hub.operator.listReports({ box: BOX })).length, 1, 'no new report');

  // when a restarted agent (no memory but the state dir) cycles, then still nothing runs
  await agent.close();
  const restarted = await world.agent();
  t.equal((await restarted.cycle()).engineRuns, 0, 'the ETag in agent.json spares the restarted agent an engine run');

  // when the operator publishes a spec without the media app, then the engine removes its file
  await world.publish({ serial: 2, body: boxSpec((spec) => void (spec.spec.apps = spec.spec.apps.filter((app) => app.name !== 'media'))) as never });
  const third = await restarted.cycle();
  t.match(third.items, [{ serial: 2, outcome: 'succeeded', counts: { delete: 1 } }], 'one resource deleted');
  t.notOk((await readdir(world.outputDir)).includes('app-media.json'), 'the media file is gone');
});

t.test('jobs: preview and refresh report drift without correcting it; destroy needs its capability', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const agent = await world.agent();
  await agent.cycle();

  // given a file changed by hand, when a refresh job runs, then drift is reported and left alone
  const edited = join(world.outputDir, 'app-vault.json');
  await writeFile(edited, 'edited by hand');
  await world.publish({ type: 'job', serial: 2, body: { action: 'refresh' } });
  const refresh = await agent.cycle();
  t.match(refresh.items, [{ action: 'refresh', outcome: 'succeeded', counts: { update: 1 } }], 'the preview after refresh counts one update');
  t.equal(await readFile(edited, 'utf8'), 'edited by hand', 'the drift was not corrected');

  // when an apply job runs, then the last applied spec is applied again and the drift corrected
  await world.publish({ type: 'job', serial: 3, body: { action: 'apply' } });
  const apply = await agent.cycle();
  t.match(apply.items, [{ action: 'apply', outcome: 'succeeded', counts: { update: 1 } }], 'apply updated the edited file');
  t.not(await readFile(edited, 'utf8'), 'edited by hand', 'the declared content is back');

  // when a destroy job lacks the capability, then it fails with ECAPABILITY and the engine never runs
  const before = world.counter.invocations;
  await world.publish({ type: 'job', serial: 4, body: { action: 'destroy' } });
  const refused = await agent.cycle();
  t.match(refused.items, [{ action: 'destroy', outcome: 'failed', reason: { code: 'ECAPABILITY' } }], 'destroy without capability fails');
  t.equal(world.counter.invocations, before, 'no program ran');
  t.ok((await readdir(world.outputDir)).length > 0, 'nothing was destroyed');
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.match(reports[0], { outcome: 'failed', reason: { code: 'ECAPABILITY' } }, 'the hub got the refusal');

  // when a destroy job carries the capability, then the stack is destroyed
  await world.publish({ type: 'job', serial: 5, body: { action: 'destroy', capabilities: ['destroy'] } });
  const destroyed = await agent.cycle();
  t.match(destroyed.items, [{ action: 'destroy', outcome: 'succeeded', counts: { delete: 10 } }], 'everything deleted');
  t.same(await readdir(world.outputDir), [], 'the files are gone');
});
