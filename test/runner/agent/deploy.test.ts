// Snapshot-before-deploy, rollback on a failed health check, and restore planning, with a
// recording double for Proxmox (the engine is not involved: `up` and `refresh` are recorded too).
import t from 'tap';
import { planDeploy, planRestore, runDeploy, runRestore, type HostOperations } from '../../../runner/agent/deploy.js';
import { HealthCheckError, RestoreStepError } from '../../../runner/agent/errors.js';
import { ProxmoxCliOperations, HostOperationError } from '../../../runner/agent/proxmox-operations.js';

function recordingHost(unhealthy: number[] = []): HostOperations & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    snapshot: async (vmId, name) => void calls.push(`snapshot ${vmId} ${name}`),
    rollback: async (vmId, name) => void calls.push(`rollback ${vmId} ${name}`),
    deleteSnapshot: async (vmId, name) => void calls.push(`delsnapshot ${vmId} ${name}`),
    healthCheck: async (vmId) => {
      calls.push(`health ${vmId}`);
      return unhealthy.includes(vmId) ? { healthy: false, detail: 'status: stopped' } : { healthy: true, detail: 'ok' };
    },
    restore: async (vmId, archive, options) => void calls.push(`restore ${vmId} ${archive} ${options.storage}`),
    start: async (vmId) => void calls.push(`start ${vmId}`),
    isAvailable: async (storage) => (calls.push(`available ${storage}`), true),
    listBackups: async (storage) => (calls.push(`list ${storage}`), []),
  };
}

const input = { snapshotBeforeDeploy: true, guests: [{ name: 'b', vmId: 201 }, { name: 'a', vmId: 200 }], hostOperations: true, snapshotName: 'predeploy' };

t.test('a healthy deploy: snapshot each guest, up, check each, delete the snapshots', async (t) => {
  const host = recordingHost();
  const outcome = await runDeploy(planDeploy(input), { ops: host, up: async () => void host.calls.push('up'), refresh: async () => void host.calls.push('refresh') });
  t.same(host.calls, ['snapshot 200 predeploy', 'snapshot 201 predeploy', 'up', 'health 200', 'health 201', 'delsnapshot 200 predeploy', 'delsnapshot 201 predeploy']);
  t.same(outcome, { healthy: true, rolledBack: false, actions: outcome.actions }, 'healthy, nothing rolled back');
});

t.test('a failed health check rolls every guest back, refreshes the state, and fails the job', async (t) => {
  const host = recordingHost([201]);
  await t.rejects(runDeploy(planDeploy(input), { ops: host, up: async () => void host.calls.push('up'), refresh: async () => void host.calls.push('refresh') }), HealthCheckError);
  t.same(host.calls.slice(-3), ['rollback 200 predeploy', 'rollback 201 predeploy', 'refresh'], 'rolled back then refreshed');
});

t.test('a failed up keeps the snapshots for a person to decide', async (t) => {
  const host = recordingHost();
  await t.rejects(runDeploy(planDeploy(input), { ops: host, up: async () => { throw new Error('provider failed'); }, refresh: async () => {} }), /provider failed/);
  t.same(host.calls, ['snapshot 200 predeploy', 'snapshot 201 predeploy'], 'no rollback, no delete');
});

t.test('without host operations or with snapshots off, the plan is up and checks only as possible', async (t) => {
  t.same(planDeploy({ ...input, hostOperations: false }), { before: [], apply: [{ kind: 'up' }], checks: [], keep: [], rollback: [] }, 'just up');
  const off = planDeploy({ ...input, snapshotBeforeDeploy: false });
  t.same(off.before, [], 'no snapshots');
  t.equal(off.checks.length, 2, 'health still checked');
  t.same(off.rollback, [], 'nothing to roll back to');
});

t.test('restore takes each guest from the fastest surviving source, then provisions', async (t) => {
  const plan = planRestore([{ vmId: 200 }, { vmId: 201 }, { vmId: 202 }], [
    { storage: 'offsite', tier: 'pbs', class: 'slow', available: true, backups: [{ volid: 'offsite:ct/200/new', vmId: 200, ctime: 300 }, { volid: 'offsite:ct/201/a', vmId: 201, ctime: 100 }] },
    { storage: 'nas', tier: 'local', class: 'slow', available: true, backups: [{ volid: 'nas:backup/200-old', vmId: 200, ctime: 200 }, { volid: 'nas:backup/200-older', vmId: 200, ctime: 100 }] },
    { storage: 'usb', tier: 'local', class: 'fast', available: false, backups: [{ volid: 'usb:200', vmId: 200, ctime: 400 }] },
  ], 'local-lvm');
  t.same(plan.actions, [
    { kind: 'restore', vmId: 200, archive: 'nas:backup/200-old', from: 'nas', storage: 'local-lvm' },
    { kind: 'start', vmId: 200 },
    { kind: 'restore', vmId: 201, archive: 'offsite:ct/201/a', from: 'offsite', storage: 'local-lvm' },
    { kind: 'start', vmId: 201 },
    { kind: 'up' },
  ], 'local (newest there) before PBS; the unavailable USB disk is skipped');
  t.same(plan.unrecoverable, [202], 'a guest with no backup anywhere is named');
});

t.test('the Proxmox implementation runs pct with exact arguments and refuses bad snapshot names', async (t) => {
  const ran: string[] = [];
  const ops = new ProxmoxCliOperations(async (command, args) => {
    ran.push(`${command} ${args.join(' ')}`);
    return args[0] === 'status' ? 'status: running\n' : '';
  });
  await ops.snapshot(200, 'predeploy');
  await ops.rollback(200, 'predeploy');
  await ops.deleteSnapshot(200, 'predeploy');
  t.same(await ops.healthCheck(200), { healthy: true, detail: 'running and answering' });
  await ops.restore(200, 'nas:backup/x.tar.zst', { storage: 'local-lvm' });
  await ops.start(200);
  t.same(ran, [
    'pct snapshot 200 predeploy --description felhom snapshot-before-deploy',
    'pct rollback 200 predeploy --start 1',
    'pct delsnapshot 200 predeploy',
    'pct status 200',
    'pct exec 200 -- true',
    'pct restore 200 nas:backup/x.tar.zst --storage local-lvm --unique 1',
    'pct start 200',
  ]);
  await t.rejects(ops.snapshot(200, '1; rm -rf /'), HostOperationError, 'a name pct would refuse is refused first');
});

t.test('a source the restore job names comes before the speed order', async (t) => {
  const plan = planRestore([{ vmId: 200 }], [
    { storage: 'nas', tier: 'local', class: 'fast', available: true, backups: [{ volid: 'nas:backup/200', vmId: 200, ctime: 500 }] },
    { storage: 'offsite', tier: 'pbs', class: 'slow', available: true, preference: 0, backups: [{ volid: 'offsite:backup/ct/200/x', vmId: 200, ctime: 100 }] },
  ], 'local-lvm');
  t.match(plan.actions[0], { kind: 'restore', vmId: 200, from: 'offsite' }, 'the operator preferred PBS, though the NAS is faster');
});

t.test('a failed restore step names the guests restored before it and keeps the cause code', async (t) => {
  const host = recordingHost();
  host.restore = async (vmId) => {
    if (vmId === 201) throw new HostOperationError('pct restore 201 offsite:backup/ct/201/a --storage local-lvm --unique 1 failed: unable to restore');
    host.calls.push(`restore ${vmId}`);
  };
  const plan = planRestore([{ vmId: 200 }, { vmId: 201 }], [
    { storage: 'offsite', tier: 'pbs', class: 'slow', available: true, backups: [{ volid: 'offsite:a', vmId: 200, ctime: 1 }, { volid: 'offsite:b', vmId: 201, ctime: 1 }] },
  ], 'local-lvm');
  const error = await runRestore(plan, { ops: host, up: async () => void host.calls.push('up') }).catch((caught: unknown) => caught);
  t.type(error, RestoreStepError);
  t.equal((error as RestoreStepError).code, 'EHOST_OPERATION', 'the cause code is kept');
  t.match((error as Error).message, /restore of guest 201 failed after restoring guest\(s\) 200: pct restore 201/);
  t.same(host.calls, ['restore 200', 'start 200'], 'stopped at the failure: no up');
});

t.test('the Proxmox implementation checks and lists a backup source with pvesm and pvesh', async (t) => {
  const ran: string[] = [];
  const answers: Record<string, string> = {
    'pvesm status --storage nas-backup': 'Name         Type     Status           Total            Used       Available        %\nnas-backup    nfs     active      1000   10   990    1.00%\n',
    'pvesm status --storage usb': 'Name Type Status Total Used Available %\nusb dir inactive 0 0 0 0.00%\n',
    'pvesh get /nodes/pve1/storage/offsite/content --content backup --output-format json': JSON.stringify([
      { volid: 'offsite:backup/ct/200/2026-01-02T03:04:05Z', vmid: 200, ctime: 1767323045, content: 'backup', format: 'pbs-ct' },
      { volid: 'offsite:backup/host/pve/2026-01-01', content: 'backup', ctime: 1 },
      { volid: 'offsite:backup/ct/201/2026-01-01T00:00:00Z', vmid: '201', ctime: 1767225600 },
    ]),
  };
  const ops = new ProxmoxCliOperations(async (command, args) => {
    const line = `${command} ${args.join(' ')}`;
    ran.push(line);
    if (line in answers) return answers[line]!;
    throw new HostOperationError(`${line} failed: storage 'gone' does not exist`);
  }, { node: 'pve1' });

  t.equal(await ops.isAvailable('nas-backup'), true, 'an active storage is available');
  t.equal(await ops.isAvailable('usb'), false, 'an inactive one is not');
  t.equal(await ops.isAvailable('gone'), false, 'one the host does not define is not');
  t.same(await ops.listBackups('offsite'), [
    { volid: 'offsite:backup/ct/200/2026-01-02T03:04:05Z', vmId: 200, ctime: 1767323045 },
    { volid: 'offsite:backup/ct/201/2026-01-01T00:00:00Z', vmId: 201, ctime: 1767225600 },
  ], 'guest backups only; the host config backup has no guest');
  t.same(ran, [
    'pvesm status --storage nas-backup',
    'pvesm status --storage usb',
    'pvesm status --storage gone',
    'pvesh get /nodes/pve1/storage/offsite/content --content backup --output-format json',
  ], 'the exact argument lists');
  await t.rejects(ops.listBackups('--all'), HostOperationError, 'a storage name that is not a Proxmox id never reaches pvesh');
  await t.rejects(new ProxmoxCliOperations(async () => 'not json', { node: 'pve1' }).listBackups('offsite'), HostOperationError, 'unreadable output is an error, not an empty list');
});

t.test('only guests that exist before the deploy are snapshotted; a guest the deploy creates is still health-checked', async (t) => {
  const plan = planDeploy({ ...input, existing: [200] });
  t.same(plan.before, [{ kind: 'snapshot', vmId: 200, name: 'predeploy' }]);
  t.same(plan.checks.map((check) => (check as { vmId: number }).vmId), [200, 201]);
  t.same(plan.rollback, [{ kind: 'rollback', vmId: 200, name: 'predeploy' }, { kind: 'refresh' }]);
  t.same(planDeploy({ ...input, existing: [] }).rollback, [], 'a first deploy has nothing to roll back to');
  const { existingGuests } = await import('../../../runner/agent/deploy.js');
  t.same(await existingGuests(undefined, [200, 201]), [200, 201], 'without host operations every guest is assumed');
  t.same(await existingGuests({ ...recordingHost(), guestExists: async (vmId) => vmId === 201 }, [200, 201]), [201]);
});

t.test('pct config tells whether a guest exists', async (t) => {
  const missing = new HostOperationError("pct config 200 failed: Configuration file 'nodes/pve/lxc/200.conf' does not exist");
  const ops = (answer: () => Promise<string>) => new ProxmoxCliOperations(async () => answer(), { node: 'pve' });
  t.equal(await ops(async () => 'arch: amd64\n').guestExists(200), true);
  t.equal(await ops(async () => { throw missing; }).guestExists(200), false);
  await t.rejects(ops(async () => { throw new HostOperationError('pct: permission denied'); }).guestExists(200), /permission denied/);
});
