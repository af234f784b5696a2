import t from 'tap';
import { backupsAreReal } from '../../../policies/rules/backups.js';
import { homeBox } from '../../helpers/box-spec.js';
import { check, messages, modify, plan, resourcesOf } from '../../helpers/policies.js';

const JOB = 'proxmoxve:backup/job:Job';
const PBS = 'proxmoxve:storage/pbs:Pbs';

t.test('the home box backs its guest up to the NAS and to PBS, encrypted, per customer, with retention', async (t) => {
  const result = await plan(homeBox(), ['host']);
  t.same(check(backupsAreReal, result, 'host'), []);
});

t.test('a guest covered by no backup job is refused', async (t) => {
  const result = await plan(
    homeBox((spec) => {
      spec.spec.guests.push({ name: 'second', vmId: 201 });
      for (const job of spec.spec.backup.jobs) job.guests = ['customer'];
    }),
    ['host'],
  );
  const violations = check(backupsAreReal, result, 'host');
  t.same(messages(violations), [
    'proxmoxve:index/containerLegacy:ContainerLegacy "second-container" (VM 201) has no backup beyond snapshots: add a spec.backup.jobs entry covering it on a storage with the backup role (a local disk/NAS, or PBS offsite)',
  ]);
  t.match(violations[0]!.urn, /second-container$/);
});

t.test('a job onto the guest\'s own root storage is a snapshot, not a backup tier', async (t) => {
  const result = await plan(homeBox(), ['host']);
  let resources = modify(resourcesOf(result, 'host'), JOB, 'nightly-nas-job', (r) => (r.inputs.storage = 'local-lvm'));
  resources = modify(resources, JOB, 'weekly-offsite-job', (r) => (r.inputs.enabled = false));
  t.same(messages(check(backupsAreReal, result, 'host', resources)), [
    'proxmoxve:index/containerLegacy:ContainerLegacy "customer-container" (VM 200) has no backup beyond snapshots (jobs: "nightly-nas-job" → "local-lvm"): add a spec.backup.jobs entry covering it on a storage with the backup role (a local disk/NAS, or PBS offsite)',
  ]);
});

t.test('a schedule without retention is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), JOB, 'nightly-nas-job', (r) => (r.inputs.pruneBackups = { 'keep-daily': '0' }));
  t.same(messages(check(backupsAreReal, result, 'host', resources)), [
    `${JOB} "nightly-nas-job" runs on schedule "*-*-* 02:30" without retention: set at least one keep-* value above 0 in spec.backup.jobs[].retention, or the backups fill the storage`,
  ]);
});

t.test('a PBS target without encryption key or with another namespace is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), PBS, 'offsite-storage', (r) => {
    delete r.inputs.encryptionKey;
    r.inputs.namespace = 'customers/c-9999';
  });
  t.same(messages(check(backupsAreReal, result, 'host', resources)), [
    `${PBS} "offsite-storage" has no client-side encryption key: offsite backups must be encrypted before they leave the box; set encryptionKey in the spec's pbs storage`,
    `${PBS} "offsite-storage" uses namespace "customers/c-9999", which is not this customer's: it must contain the customer id "c-1042" as a path segment, for example "customers/c-1042"`,
  ]);
});

t.test('a PBS target writing to the datastore root is refused', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const resources = modify(resourcesOf(result, 'host'), PBS, 'offsite-storage', (r) => delete r.inputs.namespace);
  t.same(messages(check(backupsAreReal, result, 'host', resources)), [
    `${PBS} "offsite-storage" writes to the datastore root: give it a per-customer namespace such as "customers/c-1042"`,
  ]);
});

t.test('customer-only key custody refuses a key the operator encrypted into the spec', async (t) => {
  const result = await plan(
    homeBox((spec) => {
      spec.spec.backup.keyCustody = 'customer-only';
      const offsite = spec.spec.storage!.find((storage) => storage.name === 'offsite')!;
      (offsite as { encryptionKey: unknown }).encryptionKey = { encrypted: '-----BEGIN PGP MESSAGE-----\n\nwcBMAw==\n-----END PGP MESSAGE-----\n' };
    }),
    ['host'],
  );
  t.same(messages(check(backupsAreReal, result, 'host')), [
    'pbs storage "offsite" carries its encryption key in the signed spec, but key custody is customer-only: whoever encrypted it held the key; reference the key the customer installed on the box instead (encryptionKey: { ref: <name> })',
  ]);
});

t.test('customer-only key custody with a key held on the box passes', async (t) => {
  const result = await plan(homeBox((spec) => (spec.spec.backup.keyCustody = 'customer-only')), ['host']);
  t.same(check(backupsAreReal, result, 'host'), []);
});
