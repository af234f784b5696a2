// The attacks an outside review ran against the agent (issue 14), one test each: a compromised
// hub serves what it should not (injected straight into its job list), or the box is killed at
// the worst moment. Each asserts the exact reason code, the journal, the audit log and the floor.
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { applyKeyRotation, formatEnvelope, loadTrustStore, parseEnvelope, verifyEnvelope } from '../../../runner/envelope/index.js';
import { workItem } from '../../../runner/agent/envelope-item.js';
import { EnvelopeArchive, prepareStateDir } from '../../../runner/agent/state-dir.js';
import { AuditLog, verifyAuditLog } from '../../../runner/state/audit.js';
import { Journal } from '../../../runner/state/journal.js';
import { agentWorld, boxSpec, BOX, REF_SECRETS } from '../../helpers/agent-fixture.js';
import { felhom } from '../../helpers/cli.js';
import { document, signText } from '../../helpers/envelopes.js';
import { OPERATOR_TOKEN } from '../../helpers/hub.js';
import { testKey, testKeys } from '../../helpers/keys.js';

const job = (serial: number, action = 'refresh') => ({ type: 'job' as const, serial, body: { action } });

t.test('rollback after a failure: a spec that verified and then failed at apply still holds the floor against a held-back older job and a job reusing its serial', async (t) => {
  const world = await agentWorld(t);
  // given a box whose serial-40 spec verifies and then fails at apply (its tunnel token is not on the box)
  await rm(join(world.stateDir, 'secrets', 'tunnel-token'));
  let floorOnDiskAtApply: unknown;
  const agent = await world.agent({
    beforeStep: (step) => {
      if (step === 'apply') floorOnDiskAtApply = (JSON.parse(readFileSync(Journal.fileIn(world.stateDir), 'utf8')) as { verified?: Record<string, { serial: number }> }).verified?.[`${BOX}/host`]?.serial;
    },
  });
  await world.publish({ type: 'spec', serial: 40, body: boxSpec() });
  const first = await agent.cycle();
  t.match(first.items, [{ serial: 40, outcome: 'failed', reason: { code: 'ESECRET' } }], 'serial 40 failed at apply');
  t.equal(floorOnDiskAtApply, 40, 'the floor was on disk before the apply started');

  // when a compromised hub serves a held-back serial-35 job and a different job reusing serial 40
  await world.inject(await world.sign(job(35)), 35);
  await world.inject(await world.sign(job(40, 'preview')), 40);
  const second = await agent.cycle();

  // then both are refused, with their own reasons, and nothing ran
  t.match(second.items, [
    { serial: 35, outcome: 'rejected', reason: { code: 'EROLLBACK' } },
    { serial: 40, outcome: 'rejected', reason: { code: 'EREPLAY' } },
  ]);
  t.equal(world.counter.invocations, 0, 'no engine ran');
  await agent.close();
  const journal = await Journal.open(world.stateDir);
  t.equal(journal.verifiedFloor(BOX, 'host'), 40, 'the floor stays at the highest verified serial');
  t.equal(journal.lastApplied(BOX, 'host'), null, 'nothing was applied');
});

t.test('signature poisoning: a copy with one bad signature served first does not make the validly signed copy final; the rotation it carries happens', async (t) => {
  const world = await agentWorld(t);
  const [alice, bob] = await testKeys('alice', 'bob');
  // given a rotate-keys job to bob, signed by alice (current) and bob (new)
  const body = { action: 'rotate-keys', threshold: 1, keys: [bob.publicArmored] };
  const valid = await world.sign({ type: 'job', serial: 5, body }, 'alice');
  const payload = parseEnvelope(valid).payload;
  const signed = formatEnvelope({ payload, signatures: [...document(valid).signatures, await signText(payload, bob)] });
  // and a poisoned copy: the same payload, alice's good signature, and a bad one by bob (made over other bytes)
  const poisoned = formatEnvelope({ payload, signatures: [document(valid).signatures[0]!, await signText(`${payload} `, bob)] });
  const agent = await world.agent();

  // when the hub serves the poisoned copy first
  await world.inject(poisoned, 5);
  const first = await agent.cycle();
  t.match(first.items, [{ serial: 5, outcome: 'rejected', reason: { code: 'ETAMPERED' } }], 'the poisoned copy is refused');

  // and then the validly signed copy
  await world.inject(signed, 5);
  const second = await agent.cycle();

  // then the valid copy is verified, applied and audited on its own
  t.match(second.items, [{ serial: 5, outcome: 'succeeded' }], 'the valid copy is not skipped');
  const store = await loadTrustStore(world.trustPath);
  t.same(store.keys.map((key) => key.fingerprint), [bob.fingerprint], 'the rotation happened');
  t.not(store.keys[0]!.fingerprint, alice.fingerprint);
  const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
  t.match(
    audit.entries.filter((entry) => entry.action === 'job.rotate-keys').map((entry) => entry.outcome),
    ['rejected', 'accepted', 'succeeded'],
    'the refusal and the valid copy are both in the audit log',
  );
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.same(reports.map((report) => report.outcome).sort(), ['rejected', 'succeeded'], 'both reached the hub');
  t.ok(await new EnvelopeArchive(join(world.stateDir, 'envelopes')).get(second.items[0]!.digest).then((text) => text === signed), 'the archive holds the valid copy');

  // and serving the poisoned copy once more changes nothing
  await world.inject(poisoned, 5);
  const third = await agent.cycle();
  t.same(third.items, [], 'the known poisoned copy is not judged again');
  t.same((await loadTrustStore(world.trustPath)).keys.map((key) => key.fingerprint), [bob.fingerprint]);
});

t.test('a rotation killed between the trust-store write and the journal write is recovered as succeeded', async (t) => {
  const world = await agentWorld(t);
  const bob = await testKey('bob');
  const envelope = await world.sign({ type: 'job', serial: 5, body: { action: 'rotate-keys', threshold: 1, keys: [bob.publicArmored] } });
  const both = formatEnvelope({ payload: parseEnvelope(envelope).payload, signatures: [...document(envelope).signatures, await signText(parseEnvelope(envelope).payload, bob)] });
  // given a run that journaled the rotation as running, wrote the new trust store, and was killed
  const item = workItem('job', both, BOX, 'host');
  const journal = await Journal.open(world.stateDir);
  await prepareStateDir(world.stateDir);
  await new EnvelopeArchive(join(world.stateDir, 'envelopes')).put(item.digest, both);
  await journal.receive(item.header);
  await journal.transition(item.digest, 'verified');
  await journal.transition(item.digest, 'running');
  const verified = await verifyEnvelope(both, { trust: await loadTrustStore(world.trustPath), box: BOX, tier: 'host' });
  await applyKeyRotation(verified, world.trustPath);

  // when the agent starts again
  const agent = await world.agent();
  const result = await agent.cycle();

  // then the rotation is recorded as succeeded, not failed, and the store is left as it is
  t.match(result.items, [{ digest: item.digest, outcome: 'succeeded' }]);
  t.same((await loadTrustStore(world.trustPath)).keys.map((key) => key.fingerprint), [bob.fingerprint]);
  t.match((await world.hub.operator.listReports({ box: BOX }))[0], { jobId: item.digest, outcome: 'succeeded' });
});

t.test('a box-side failure does not burn the serial: every missing secret is named at once, and the envelope is retried until it succeeds', async (t) => {
  const world = await agentWorld(t);
  // given a box missing three secrets its spec needs
  for (const name of ['tunnel-token', 'pbs-encryption-key', 'proxmox-api-token']) await rm(join(world.stateDir, 'secrets', name));
  const agent = await world.agent();
  await world.publish({ type: 'spec', serial: 7, body: boxSpec() });
  const first = await agent.cycle();
  t.match(first.items, [{ serial: 7, outcome: 'failed', reason: { code: 'ESECRET' } }]);
  const message = first.items[0]!.reason!.message;
  for (const name of ['tunnel-token', 'pbs-encryption-key', 'proxmox-api-token']) t.match(message, name, `the failure names ${name}`);
  t.match((await world.hub.operator.listReports({ box: BOX }))[0], { outcome: 'failed', reason: { code: 'ESECRET' } }, 'the hub hears about it');

  // when the next cycle comes before the backoff is over, nothing is retried yet
  const early = await agent.cycle();
  t.same(early.items, [], 'the waiting envelope is not hammered');

  // when the operator puts the secrets in place and someone runs the agent by hand
  for (const name of ['tunnel-token', 'pbs-encryption-key', 'proxmox-api-token']) await writeFile(join(world.stateDir, 'secrets', name), `${REF_SECRETS[name]}\n`, { mode: 0o600 });
  const retried = await agent.cycle({ retryNow: true });

  // then the same envelope applies, and the hub hears that too
  t.match(retried.items, [{ serial: 7, outcome: 'succeeded' }]);
  t.ok(world.counter.invocations > 0, 'the engine ran');
  const outcomes = (await world.hub.operator.listReports({ box: BOX })).map((report) => report.outcome);
  t.same(outcomes.sort(), ['failed', 'succeeded']);
});

t.test('a waiting envelope is given up when a newer one is verified', async (t) => {
  const world = await agentWorld(t);
  await rm(join(world.stateDir, 'secrets', 'tunnel-token'));
  const agent = await world.agent();
  await world.publish({ type: 'spec', serial: 7, body: boxSpec() });
  const first = await agent.cycle();
  t.match(first.items, [{ serial: 7, outcome: 'failed', reason: { code: 'ESECRET' } }]);
  // when a newer envelope (a preview job, which fails on its own: nothing applied yet) is verified
  await world.publish(job(8, 'preview'));
  const second = await agent.cycle({ retryNow: true });
  t.match(second.items.at(-1), { serial: 8 });
  await agent.close();
  const journal = await Journal.open(world.stateDir);
  t.match(journal.get(first.items[0]!.digest), { state: 'failed', reason: { code: 'ESUPERSEDED' } }, 'serial 7 is not retried any more');
});

t.test('audit divergence: cutting the last entries of the box log and appending new ones is caught at the first upload and by audit verify --hub', async (t) => {
  const world = await agentWorld(t);
  const alice = await testKey('alice');
  // given a box whose audit log reached the hub (a rotation to the same key: no engine needed)
  let agent = await world.agent();
  await world.publish({ type: 'job', serial: 5, body: { action: 'rotate-keys', threshold: 1, keys: [alice.publicArmored] } });
  t.match((await agent.cycle()).items, [{ outcome: 'succeeded' }]);
  await agent.close();
  const file = join(world.stateDir, 'audit.jsonl');
  t.equal((await world.hub.operator.listAudit(BOX)).length, 2, 'the hub holds both entries');

  // when someone cuts the last entry and appends a new one: the chain on the box is valid again
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  await writeFile(file, `${lines[0]}\n`);
  const log = await AuditLog.open(file);
  await log.append({ actor: 'agent', action: 'job.snapshot', box: BOX, tier: 'host', envelopeDigest: null, outcome: 'succeeded' });
  t.equal((await felhom(['audit', 'verify', '--state', world.stateDir])).code, 0, 'the local chain alone passes');

  // then audit verify --hub finds where they diverge
  const env = { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN };
  const checked = await felhom(['audit', 'verify', '--state', world.stateDir, '--hub', world.hub.hub.url], { env });
  t.equal(checked.code, 1);
  t.match(checked.stderr, /EAUDIT_CONFLICT: .* diverges from the hub's copy at seq 2/);
  const json = JSON.parse((await felhom(['audit', 'verify', '--state', world.stateDir, '--hub', world.hub.hub.url, '--json'], { env })).stdout) as { ok: boolean; hub: { conflict: { seq: number } } };
  t.match(json, { ok: false, hub: { box: BOX, entries: 2, conflict: { seq: 2 } } });

  // and the agent notices at its first upload, not a cycle later
  agent = await world.agent();
  const cycle = await agent.cycle();
  t.match(cycle, { status: 'stalled', error: { code: 'EAUDIT_CONFLICT', step: 'recover' } }, 'the first delivery of the first cycle stops at it');
  t.match(cycle.error!.message, /entry seq 2 is not the one the hub holds.*docs\/runbook\.md/);
});
