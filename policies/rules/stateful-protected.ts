/**
 * Stateful resources are protected: replacing a customer LXC destroys the customer's data, and
 * replacing or deleting a storage cuts the guest off its bulk data or its backups. Two halves
 * (docs/policies.md#stateful-protected):
 * - in the plan, the LXC and every storage carry Pulumi's `protect` (and the LXC Proxmox's own
 *   `protection` flag), so the engine refuses to delete them;
 * - after an engine preview, {@link checkDestructiveSteps} refuses a replace or delete of one
 *   unless the signed job carries the matching destructive capability. Analyzer policies never
 *   see deletes, so this half runs in the agent, between `preview` and `up`.
 */
import type { automation } from '@pulumi/pulumi';
import { describe, isLxcContainer, isProxmoxStorage, TYPES } from '../resources.js';
import type { PolicyRule } from '../types.js';
import { FelhomError } from '../../lib/errors.js';

export const statefulProtected: PolicyRule = {
  name: 'stateful-protected',
  description: 'The customer LXC and every storage carry protect (the LXC also Proxmox protection), so replacing or deleting them needs an explicit destructive capability.',
  level: 'mandatory',
  remediation: 'Keep protect on CustomerLxc and StorageTarget resources; to decommission, sign a job with the destroy-guest or destroy-storage capability.',
  tiers: ['host'],
  needsBox: false,
  checkResource(resource) {
    const lxc = isLxcContainer(resource.type);
    if (!lxc && !isProxmoxStorage(resource.type)) return [];
    const messages: string[] = [];
    const what = lxc ? 'the customer LXC holds the customer data' : 'a storage holds bulk data or backups';
    if (!resource.protect) messages.push(`${describe(resource)} is not protected, but ${what}: set protect: true on it (only a signed job with a destructive capability may remove it)`);
    if (lxc && resource.inputs.protection !== true) {
      messages.push(`${describe(resource)} lacks Proxmox's protection flag: set protection: true so nobody deletes the guest by hand either`);
    }
    return messages;
  },
};

/** A step of an engine preview, as the Automation API's resource events report it. */
export interface PlannedStep {
  readonly urn: string;
  readonly type: string;
  readonly op: automation.OpType | (string & {});
}

/** Capabilities a signed job may carry to allow destroying stateful resources. */
export type DestructiveCapability = 'destroy-guest' | 'destroy-storage';

/** Steps that remove or recreate the resource's underlying object. */
export const DESTRUCTIVE_OPS: readonly string[] = ['delete', 'replace', 'create-replacement', 'delete-replaced', 'discard', 'discard-replaced', 'read-replacement', 'import-replacement', 'remove-pending-replace'];

/** The capability a destructive step on this type needs; undefined for non-stateful types. */
export function capabilityFor(type: string): DestructiveCapability | undefined {
  if (isLxcContainer(type) || type === TYPES.customerLxc) return 'destroy-guest';
  if (isProxmoxStorage(type) || type === TYPES.storageTarget) return 'destroy-storage';
  return undefined;
}

export interface BlockedStep extends PlannedStep {
  readonly capability: DestructiveCapability;
  readonly message: string;
}

/**
 * The destructive steps on stateful resources the job's capabilities do not allow. Empty means
 * the agent may run `up`. Call it with every step of the preview (the `resourcePreEvent`
 * metadata of `stack.preview({ onEvent })`).
 */
export function checkDestructiveSteps(steps: readonly PlannedStep[], capabilities: readonly string[]): BlockedStep[] {
  const blocked: BlockedStep[] = [];
  for (const step of steps) {
    if (!DESTRUCTIVE_OPS.includes(step.op)) continue;
    const capability = capabilityFor(step.type);
    if (!capability || capabilities.includes(capability)) continue;
    blocked.push({
      ...step,
      capability,
      message: `the preview would ${step.op} ${step.type} ${step.urn}, which destroys customer data; the job does not carry the "${capability}" capability: fix the spec change that causes it, or sign a job with capabilities: [${capability}] if the destruction is intended`,
    });
  }
  return blocked;
}

/** Thrown by {@link assertNoDestructiveSteps}; the runner reports it as stalled (needs a person). */
export class DestructiveStepError extends FelhomError {
  readonly blocked: readonly BlockedStep[];
  constructor(blocked: readonly BlockedStep[]) {
    super('EPOLICY_DESTRUCTIVE', 'generic', `policy stateful-protected: ${blocked.length} destructive step(s) without capability: ${blocked.map((step) => `${step.op} ${step.urn} (needs ${step.capability})`).join('; ')}`, { fault: 'input' });
    this.blocked = blocked;
  }
}

/** {@link checkDestructiveSteps}, throwing when anything is blocked. */
export function assertNoDestructiveSteps(steps: readonly PlannedStep[], capabilities: readonly string[]): void {
  const blocked = checkDestructiveSteps(steps, capabilities);
  if (blocked.length > 0) throw new DestructiveStepError(blocked);
}
