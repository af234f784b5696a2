/**
 * Backups are real (docs/architecture.md#backup-tiers): a snapshot survives only logical loss, so every guest needs a
 * vzdump job to a second storage; the offsite PBS tier is client-side encrypted under the
 * customer's chosen key custody in a per-customer namespace; no schedule fills a disk forever.
 */
import { hasRetention } from '../../components/rules/backup-job.js';
import { asArray, asRecord, describe, isKnown, isLxcContainer, TYPES } from '../resources.js';
import type { PolicyResource, PolicyRule, Violation } from '../types.js';

const KEEP = /^keep-(last|hourly|daily|weekly|monthly|yearly)$/;

function hasPrune(resource: PolicyResource): boolean {
  return Object.entries(asRecord(resource.inputs.pruneBackups)).some(([key, value]) => KEEP.test(key) && Number(value) > 0);
}

function checkResource(resource: PolicyResource, context: Parameters<NonNullable<PolicyRule['checkResource']>>[1]): string[] {
  const messages: string[] = [];
  if (resource.type === TYPES.backupJob && !hasPrune(resource)) {
    messages.push(`${describe(resource)} runs on schedule ${JSON.stringify(resource.inputs.schedule ?? null)} without retention: set at least one keep-* value above 0 in spec.backup.jobs[].retention, or the backups fill the storage`);
  }
  if (resource.type === TYPES.pbsStorage) {
    const key = resource.inputs.encryptionKey;
    if (key === undefined || key === null || key === '') {
      messages.push(`${describe(resource)} has no client-side encryption key: offsite backups must be encrypted before they leave the box; set encryptionKey in the spec's pbs storage`);
    }
    const namespace = resource.inputs.namespace;
    const customer = context.box?.customer;
    if (typeof namespace !== 'string' || namespace === '') {
      messages.push(`${describe(resource)} writes to the datastore root: give it a per-customer namespace such as "customers/${customer ?? '<customer>'}"`);
    } else if (customer && isKnown(namespace) && !namespace.split('/').includes(customer)) {
      messages.push(`${describe(resource)} uses namespace ${JSON.stringify(namespace)}, which is not this customer's: it must contain the customer id "${customer}" as a path segment, for example "customers/${customer}"`);
    }
  }
  return messages;
}

function checkStack(resources: readonly PolicyResource[], context: Parameters<NonNullable<PolicyRule['checkStack']>>[1]): Violation[] {
  const box = context.box;
  if (!box || context.tier !== 'host') return [];
  const violations: Violation[] = [];
  const storages = new Map(box.storage.map((storage) => [storage.name, storage]));
  // A real tier is a second storage with the backup role: never the disk the guest lives on.
  const realTier = (name: unknown) => {
    const storage = typeof name === 'string' ? storages.get(name) : undefined;
    return storage !== undefined && storage.roles.includes('backup') && name !== box.host.rootStorage;
  };
  const jobs = resources.filter((resource) => resource.type === TYPES.backupJob && resource.inputs.enabled !== false);
  for (const container of resources.filter((resource) => isLxcContainer(resource.type))) {
    const vmId = String(container.inputs.vmId);
    const covering = jobs.filter((job) => asArray(job.inputs.vmids).map(String).includes(vmId));
    if (!covering.some((job) => realTier(job.inputs.storage))) {
      const seen = covering.map((job) => `"${job.name}" → ${JSON.stringify(job.inputs.storage)}`).join(', ');
      violations.push({
        urn: container.urn,
        message: `${describe(container)} (VM ${vmId}) has no backup beyond snapshots${seen ? ` (jobs: ${seen})` : ''}: add a spec.backup.jobs entry covering it on a storage with the backup role (a local disk/NAS, or PBS offsite)`,
      });
    }
  }
  if (box.backup.keyCustody === 'customer-only') {
    for (const storage of box.storage) {
      if (storage.type === 'pbs' && 'encrypted' in storage.encryptionKey) {
        violations.push({
          message: `pbs storage "${storage.name}" carries its encryption key in the signed spec, but key custody is customer-only: whoever encrypted it held the key; reference the key the customer installed on the box instead (encryptionKey: { ref: <name> })`,
        });
      }
    }
  }
  if (box.backup.bulk && !hasRetention(box.backup.bulk.retention)) {
    violations.push({ message: `the bulk backup on schedule "${box.backup.bulk.schedule}" has no retention: set at least one keep-* value above 0 in spec.backup.bulk.retention` });
  }
  return violations;
}

export const backupsAreReal: PolicyRule = {
  name: 'backups-are-real',
  description: 'Every guest has a backup tier that is not a snapshot; PBS targets use client-side encryption under the chosen key custody and a per-customer namespace; every schedule has a retention.',
  level: 'mandatory',
  remediation: 'Add a spec.backup.jobs entry per guest on a backup-role storage, give pbs storages an encryptionKey and a customers/<customer> namespace, and give every schedule keep-* retention.',
  tiers: ['host'],
  needsBox: false,
  checkResource,
  checkStack,
};
