/** `rollback`: one guest back to a named Proxmox snapshot (`vmId`, `name`). */
import type { JobHandler } from './index.js';
import { guestSnapshot } from './snapshot.js';

export const rollbackJob: JobHandler = async (ctx, { body }) => {
  const { ops, vmId, name } = guestSnapshot(ctx, 'rollback', body);
  await ops.rollback(vmId, name);
  return {};
};
