/** `destroy`: the whole stack, only with `capabilities: ['destroy']` in the signed body. */
import { engineOp } from '../engine-op.js';
import { CapabilityError } from '../errors.js';
import { lastAppliedSpec } from '../specs.js';
import type { JobHandler } from './index.js';

export const destroyJob: JobHandler = async (ctx, { body, resumed }) => {
  const capabilities = Array.isArray(body.capabilities) ? body.capabilities : [];
  if (!capabilities.includes('destroy')) throw new CapabilityError("a destroy job must carry capabilities: ['destroy'] in its signed body");
  const outcome = await engineOp(ctx, 'destroy', await lastAppliedSpec(ctx), resumed);
  return { counts: outcome.counts };
};
