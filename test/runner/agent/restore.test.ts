// Restore mode (docs/architecture.md#restore-mode) against a real hub and the real engine with the dynamic-provider test
// program; Proxmox is a recording double that holds backups on named storages.
import t from 'tap';
import { join } from 'node:path';
import type { BackupVolume, HostOperations } from '../../../runner/agent/deploy.js';
import type { ProgramFactory } from '../../../runner/agent/program.js';
import { workItem } from '../../../runner/agent/envelope-item.js';
import { EnvelopeArchive, prepareStateDir } from '../../../runner/agent/state-dir.js';
import { bodyProblems } from '../../../runner/envelope/body.js';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { Journal } from '../../../runner/state/journal.js';
import { testProgramFactory } from '../../helpers/agent-program.js';
import { agentWorld, boxSpec, BOX, type AgentWorld } from '../../helpers/agent-fixture.js';

interface FakeStorage {
  readonly available: boolean;
  readonly backups: readonly BackupVolume[];
}

/** Proxmox as a recording double: storages with their backups; every call is recorded. */
function backupHost(storages: Record<string, FakeStorage>): HostOperations & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    snapshot: async (vmId, name) => void calls.push(`snapshot ${vmId} ${name}`),
    rollback: async (vmId, name) => void calls.push(`rollback ${vmId} ${name}`),
    deleteSnapshot: async (vmId, name) => void calls.push(`delsnapshot ${vmId} ${name}`),
    healthCheck: async (vmId) => (calls.push(`health ${vmId}`), { healthy: true, detail: 'ok' }),
    restore: async (vmId, archive, options) => void calls.push(`restore ${vmId} ${archive} --storage ${options.storage}`),
    start: async (vmId) => void calls.push(`start ${vmId}`),
    isAvailable: async (storage) => storages[storage]?.available ?? false,
    listBackups: async (storage) => {
      calls.push(`list ${storage}`);
      return [...(storages[storage]?.backups ?? [])];
    },
  };
}

const NAS_200: BackupVolume = { volid: 'nas-backup:backup/vzdump-lxc-200-2026_01_02-02_30_00.tar.zst', vmId: 200, ctime: 1767321000 };
const PBS_200: BackupVolume = { volid: 'offsite:backup/ct/200/2026-01-01T04:00:00Z', vmId: 200, ctime: 1767240000 };

/** The test program, also recording which guests each run was told to adopt. */
function adoptionRecorder(world: AgentWorld): { factory: ProgramFactory; adopted: (readonly number[] | undefined)[]; storagesOnly: boolean[] } {
  const adopted: (readonly number[] | undefined)[] = [];
  const storagesOnly: boolean[] = [];
  const inner = testProgramFactory(world.outputDir, world.counter);
  return {
    adopted,
    storagesOnly,
    factory: (tier, box, env) => {
      adopted.push(env.adoptGuests);
      storagesOnly.push(env.storagesOnly === true);
      return inner(tier, box, env);
    },
  };
}

t.test('a spec issued with a restore job: guests come from the local NAS, start, and one up adopts them', async (t) => {
  // given a freshly enrolled box, and the hub's restore directive: the spec and a restore job
  const world = await agentWorld(t);
  const host = backupHost({ 'nas-backup': { available: true, backups: [NAS_200] }, offsite: { available: true, backups: [PBS_200] } });
  const program = adoptionRecorder(world);
  await world.publish({ serial: 1, body: boxSpec() as never });
  await world.publish({ type: 'job', serial: 2, body: { action: 'restore' } });

  // when the agent cycles
  const agent = await world.agent({ hostOperations: host, programFor: program.factory });
  const result = await agent.cycle();

  // then the guest is restored from the NAS (local before PBS), started, and the spec applied once
  t.same(host.calls, ['list nas-backup', 'list offsite', `restore 200 ${NAS_200.volid} --storage local-lvm`, 'start 200'], 'list, restore, start; no snapshot, no clean create');
  t.equal(world.counter.invocations, 2, 'a storages-only up, then one up; no clean provision');
  t.same(program.storagesOnly, [true, false], 'the bare host attaches its backup storages before restoring from them');
  t.same(program.adopted, [undefined, [200]], 'the second up adopts the restored guest');
  t.match(result.items, [
    { serial: 1, action: 'apply', outcome: 'succeeded', counts: { create: 6 } },
    { serial: 2, action: 'restore', outcome: 'succeeded', counts: { create: 6 } },
  ], 'the spec and the restore job both succeeded: guest and five apps (stack and storages came first)');

  // then the spec is the last applied one, and the hub and the audit log have both
  const journal = await Journal.open(world.stateDir);
  t.match(journal.lastApplied(BOX, 'host'), { serial: 2, specDigest: result.items[0]!.digest }, 'the carried spec is the last applied spec');
  t.match(journal.get(result.items[1]!.digest), { state: 'succeeded', history: [{ state: 'received' }, { state: 'verified' }, { state: 'running' }, { state: 'succeeded' }] });
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.same(reports.map((report) => report.outcome).sort(), ['succeeded', 'succeeded'], 'two reports');
  const audit = await verifyAuditLog(join(world.stateDir, 'audit.jsonl'));
  t.match(audit.entries.map((entry) => `${entry.action} ${entry.outcome}`), ['spec.apply accepted', 'job.restore accepted', 'spec.apply succeeded', 'job.restore succeeded']);

  // when another cycle runs, then nothing is restored again
  const again = await agent.cycle();
  t.equal(again.status, 'idle');
  t.equal(host.calls.filter((call) => call.startsWith('restore')).length, 1, 'restored once');
});

t.test('with the local NAS gone, the guest comes from PBS; a named source order wins over speed', async (t) => {
  const world = await agentWorld(t);
  const storages: Record<string, FakeStorage> = { 'nas-backup': { available: false, backups: [NAS_200] }, offsite: { available: true, backups: [PBS_200] } };
  const host = backupHost(storages);
  const program = adoptionRecorder(world);
  const agent = await world.agent({ hostOperations: host, programFor: program.factory });
  // given a spec already applied (a guest-loss restore on a box that still has its agent)
  await world.publish({ serial: 1, body: boxSpec((spec) => void (spec.spec.backup.snapshotBeforeDeploy = false)) as never });
  await agent.cycle();
  host.calls.length = 0;
  const before = world.counter.invocations;

  // when a restore job runs while the NAS is unreachable
  await world.publish({ type: 'job', serial: 2, body: { action: 'restore' } });
  const fromPbs = await agent.cycle();
  t.match(fromPbs.items, [{ action: 'restore', outcome: 'succeeded' }]);
  t.same(host.calls, ['list offsite', `restore 200 ${PBS_200.volid} --storage local-lvm`, 'start 200'], 'the unavailable NAS is not even listed');
  t.equal(world.counter.invocations - before, 1, 'one up');
  t.same(program.adopted.at(-1), [200]);

  // when the NAS is back but the job names PBS first, then PBS is used
  storages['nas-backup'] = { available: true, backups: [NAS_200] };
  host.calls.length = 0;
  await world.publish({ type: 'job', serial: 3, body: { action: 'restore', sources: ['offsite', 'nas-backup'] } });
  t.match((await agent.cycle()).items, [{ action: 'restore', outcome: 'succeeded' }]);
  t.same(host.calls.filter((call) => call.startsWith('restore')), [`restore 200 ${PBS_200.volid} --storage local-lvm`], 'the operator order wins');
});

t.test('a guest no source holds: the others are restored, the up runs, and the job fails with ERESTORE_INCOMPLETE', async (t) => {
  const world = await agentWorld(t);
  const host = backupHost({ 'nas-backup': { available: true, backups: [NAS_200] }, offsite: { available: false, backups: [] } });
  const program = adoptionRecorder(world);
  const spec = boxSpec((draft) => {
    draft.spec.guests.push({ name: 'office', vmId: 201, cores: 2, memoryMiB: 4096, diskGiB: 32 } as never);
  });
  await world.publish({ serial: 1, body: spec as never });
  await world.publish({ type: 'job', serial: 2, body: { action: 'restore' } });

  const agent = await world.agent({ hostOperations: host, programFor: program.factory });
  const result = await agent.cycle();

  t.same(host.calls, ['list nas-backup', `restore 200 ${NAS_200.volid} --storage local-lvm`, 'start 200'], 'guest 200 restored and started');
  t.equal(world.counter.invocations, 2, 'the storages-only up and the up still ran');
  t.same(program.adopted, [undefined, [200]], 'only the restored guest is adopted; 201 is created');
  t.match(result.items[0], { action: 'apply', outcome: 'succeeded' }, 'the spec was applied');
  const failed = result.items[1]!;
  t.match(failed, { action: 'restore', outcome: 'failed', reason: { code: 'ERESTORE_INCOMPLETE' }, counts: { create: 7 } });
  t.match(failed.reason?.message, /restored guest\(s\) 200 from nas-backup; no available source holds a backup of guest\(s\) 201 \(sources: nas-backup, offsite \(unavailable\)\)/);
  const reports = await world.hub.operator.listReports({ box: BOX });
  t.ok(reports.some((report) => report.outcome === 'failed' && report.reason?.code === 'ERESTORE_INCOMPLETE' && /201/.test(report.reason.message)), 'the hub learns which guest is missing');
});

t.test('a restore is refused without host operations, on a tier other than host, and without a spec', async (t) => {
  const world = await agentWorld(t);
  const program = adoptionRecorder(world);

  // given a fresh box, when a restore job comes alone, then there is no spec to restore
  const host = backupHost({ 'nas-backup': { available: true, backups: [NAS_200] } });
  const withHost = await world.agent({ hostOperations: host, programFor: program.factory });
  await world.publish({ type: 'job', serial: 1, body: { action: 'restore' } });
  t.match((await withHost.cycle()).items, [{ action: 'restore', outcome: 'failed', reason: { code: 'ENO_SPEC' } }]);
  t.same(host.calls, [], 'no Proxmox call');
  await withHost.close();

  // when a spec and a restore job reach an agent without host operations, then both fail, nothing runs
  const without = await world.agent({ programFor: program.factory });
  await world.publish({ serial: 2, body: boxSpec() as never });
  await world.publish({ type: 'job', serial: 3, body: { action: 'restore' } });
  const refused = await without.cycle();
  t.match(refused.items, [
    { serial: 2, action: 'apply', outcome: 'failed', reason: { code: 'EJOB_UNSUPPORTED' } },
    { serial: 3, action: 'restore', outcome: 'failed', reason: { code: 'EJOB_UNSUPPORTED', message: /needs Proxmox host operations/ } },
  ], 'the spec is not clean-provisioned in place of the restore');
  t.equal(world.counter.invocations, 0, 'no engine ran');
  await without.close();

  // when a restore job reaches the guest tier, then it is refused there
  const guestHost = backupHost({});
  const guest = await world.agent({ tier: 'guest', hostOperations: guestHost, programFor: program.factory });
  await world.publish({ type: 'job', tier: 'guest', serial: 1, body: { action: 'restore' } });
  t.match((await guest.cycle()).items, [{ action: 'restore', outcome: 'failed', reason: { code: 'EJOB_UNSUPPORTED', message: /host tier only/ } }]);
  t.same(guestHost.calls, [], 'no Proxmox call');
  t.equal(world.counter.invocations, 0, 'no engine ran');
});

t.test('a restore the agent was killed during is not repeated: it and its spec fail with ERESTORE_INTERRUPTED', async (t) => {
  // given a state dir where a carried spec and its restore job were both running when the agent died
  const world = await agentWorld(t);
  const layout = await prepareStateDir(world.stateDir);
  const archive = new EnvelopeArchive(layout.envelopes);
  const journal = await Journal.open(world.stateDir);
  for (const [envelope, type] of [[await world.sign({ serial: 1, body: boxSpec() }), 'spec'], [await world.sign({ type: 'job', serial: 2, body: { action: 'restore' } }), 'job']] as const) {
    const item = workItem(type, envelope, BOX, 'host');
    await archive.put(item.digest, envelope);
    await journal.receive(item.header);
    await journal.transition(item.digest, 'verified');
    await journal.transition(item.digest, 'running');
  }
  const host = backupHost({ 'nas-backup': { available: true, backups: [NAS_200] } });

  // when the agent starts again
  const agent = await world.agent({ hostOperations: host });
  const result = await agent.cycle();

  // then neither is run again; both are reported failed for a person to check
  t.match(result.items, [
    { serial: 1, action: 'apply', outcome: 'failed', reason: { code: 'ERESTORE_INTERRUPTED' } },
    { serial: 2, action: 'restore', outcome: 'failed', reason: { code: 'ERESTORE_INTERRUPTED', message: /pct list/ } },
  ]);
  t.same(host.calls, [], 'no Proxmox call');
  t.equal(world.counter.invocations, 0, 'no engine ran: the spec was not clean-provisioned');
});

t.test('a restore job body may name its sources: a non-empty list of distinct storage names', async (t) => {
  t.same(bodyProblems({ action: 'restore' }, 'job', BOX), [], 'no sources: the spec decides');
  t.same(bodyProblems({ action: 'restore', sources: ['nas-backup', 'offsite'] }, 'job', BOX), []);
  t.match(bodyProblems({ action: 'restore', sources: [] }, 'job', BOX), [/body\.sources: expected a non-empty array/]);
  t.match(bodyProblems({ action: 'restore', sources: ['offsite', 7, 'offsite'] }, 'job', BOX), [/body\.sources\[1\]: expected a storage name, got 7/, /body\.sources\[2\]: "offsite" is listed twice/]);
});
