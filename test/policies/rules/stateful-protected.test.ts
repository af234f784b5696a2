import t from 'tap';
import { assertNoDestructiveSteps, checkDestructiveSteps, DestructiveStepError, statefulProtected } from '../../../policies/rules/stateful-protected.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, messages, modify, plan, resourcesOf } from '../../helpers/policies.js';
import type { PolicyResource } from '../../../policies/types.js';

const LXC = 'proxmoxve:index/containerLegacy:ContainerLegacy';
const STORAGES = ['proxmoxve:storage/directory:Directory', 'proxmoxve:storage/nfs:Nfs', 'proxmoxve:storage/pbs:Pbs'];

/** The plan with every storage protected, as StorageTarget is meant to register them. */
function withProtectedStorages(resources: readonly PolicyResource[]): PolicyResource[] {
  return resources.map((resource) => (STORAGES.includes(resource.type) ? { ...resource, protect: true } : resource));
}

t.test('a protected customer LXC with Proxmox protection and protected storages pass', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(check(statefulProtected, result, 'host', withProtectedStorages(resourcesOf(result, 'host'))), []);
});

t.test('the customer LXC as CustomerLxc registers it is protected', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(messages(check(statefulProtected, result, 'host')).filter((message) => message.includes(LXC)), []);
});

t.test('an unprotected LXC without Proxmox protection is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(withProtectedStorages(resourcesOf(result, 'host')), LXC, 'customer-container', (r) => {
    r.protect = false;
    r.inputs.protection = false;
  });
  t.same(messages(check(statefulProtected, result, 'host', resources)), [
    `${LXC} "customer-container" is not protected, but the customer LXC holds the customer data: set protect: true on it (only a signed job with a destructive capability may remove it)`,
    `${LXC} "customer-container" lacks Proxmox's protection flag: set protection: true so nobody deletes the guest by hand either`,
  ]);
});

t.test('an unprotected storage is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(withProtectedStorages(resourcesOf(result, 'host')), 'proxmoxve:storage/pbs:Pbs', 'offsite-storage', (r) => (r.protect = false));
  t.same(messages(check(statefulProtected, result, 'host', resources)), [
    'proxmoxve:storage/pbs:Pbs "offsite-storage" is not protected, but a storage holds bulk data or backups: set protect: true on it (only a signed job with a destructive capability may remove it)',
  ]);
});

const GUEST_URN = 'urn:pulumi:hb-0001.host::felhom::felhom:host:CustomerLxc$proxmoxve:index/containerLegacy:ContainerLegacy::customer-container';
const STORAGE_URN = 'urn:pulumi:hb-0001.host::felhom::felhom:host:StorageTarget$proxmoxve:storage/nfs:Nfs::nas-backup-storage';
const JOB_URN = 'urn:pulumi:hb-0001.host::felhom::felhom:host:BackupJob$proxmoxve:backup/job:Job::nightly-nas-job';

t.test('a preview replacing the guest is blocked without the destroy-guest capability', async (t) => {
  const steps = [
    { urn: GUEST_URN, type: LXC, op: 'replace' },
    { urn: JOB_URN, type: 'proxmoxve:backup/job:Job', op: 'replace' },
    { urn: STORAGE_URN, type: 'proxmoxve:storage/nfs:Nfs', op: 'same' },
  ];
  const blocked = checkDestructiveSteps(steps, []);
  t.same(blocked, [
    {
      urn: GUEST_URN,
      type: LXC,
      op: 'replace',
      capability: 'destroy-guest',
      message: `the preview would replace ${LXC} ${GUEST_URN}, which destroys customer data; the job does not carry the "destroy-guest" capability: fix the spec change that causes it, or sign a job with capabilities: [destroy-guest] if the destruction is intended`,
    },
  ]);
  t.same(checkDestructiveSteps(steps, ['destroy-guest']), []);
});

t.test('deleting a storage needs destroy-storage, not destroy-guest', async (t) => {
  const steps = [{ urn: STORAGE_URN, type: 'proxmoxve:storage/nfs:Nfs', op: 'delete' }];
  t.same(checkDestructiveSteps(steps, ['destroy-guest']).map((step) => step.capability), ['destroy-storage']);
  t.same(checkDestructiveSteps(steps, ['destroy-storage']), []);
});

t.test('creates, updates and sames never need a capability', async (t) => {
  const steps = ['create', 'update', 'same', 'read', 'refresh'].map((op) => ({ urn: GUEST_URN, type: LXC, op }));
  t.same(checkDestructiveSteps(steps, []), []);
});

t.test('assertNoDestructiveSteps throws a coded error listing the blocked steps', async (t) => {
  const error = t.throws(() => assertNoDestructiveSteps([{ urn: GUEST_URN, type: 'felhom:host:CustomerLxc', op: 'delete' }], [])) as DestructiveStepError;
  t.ok(error instanceof DestructiveStepError);
  t.equal(error.code, 'EPOLICY_DESTRUCTIVE');
  t.equal(error.blocked.length, 1);
  t.doesNotThrow(() => assertNoDestructiveSteps([{ urn: GUEST_URN, type: LXC, op: 'update' }], []));
});
