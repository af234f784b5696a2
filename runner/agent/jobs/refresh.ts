/** `refresh`: drift is reported, never corrected: refresh records reality, preview says what up would change. */
import { engineOp } from '../engine-op.js';
import { lastAppliedSpec } from '../specs.js';
import type { JobHandler } from './index.js';

export const refreshJob: JobHandler = async (ctx, { resumed }) => {
  const spec = await lastAppliedSpec(ctx);
  await engineOp(ctx, 'refresh', spec, resumed);
  const preview = await engineOp(ctx, 'preview', spec, false);
  return { counts: preview.counts };
};
