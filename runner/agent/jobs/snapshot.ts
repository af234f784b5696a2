/** `snapshot`: a named Proxmox snapshot of one guest (`vmId`, `name`). */
import type { HostOperations } from '../deploy.js';
import type { AgentContext } from '../context.js';
import { UnsupportedJobError } from '../errors.js';
import type { JobHandler } from './index.js';

/** The host operations and guest a snapshot or rollback job names; refused without them or for a bad `vmId`. */
export function guestSnapshot(ctx: AgentContext, action: string, body: Record<string, unknown>): { ops: HostOperations; vmId: number; name: string } {
  const ops = ctx.host.operations;
  if (!ops) throw new UnsupportedJobError(`a ${action} job needs Proxmox host operations, which this agent does not have`);
  const vmId = Number(body.vmId);
  const name = String(body.name ?? '');
  if (!Number.isSafeInteger(vmId) || vmId < 100) throw new UnsupportedJobError(`body.vmId: expected a guest id (>= 100), got ${JSON.stringify(body.vmId)}`);
  return { ops, vmId, name };
}

export const snapshotJob: JobHandler = async (ctx, { body }) => {
  const { ops, vmId, name } = guestSnapshot(ctx, 'snapshot', body);
  await ops.snapshot(vmId, name);
  return {};
};
