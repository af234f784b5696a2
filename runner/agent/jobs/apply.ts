/**
 * `apply`: the last applied spec again, or (with `spec`) a received spec the destructive-step
 * gate refused, applied now with the capabilities this signed job grants (docs/agent.md
 * "Deliberate destruction").
 */
import { deploySpec } from '../deploy-spec.js';
import { lastAppliedSpec, receivedSpec } from '../specs.js';
import type { JobHandler } from './index.js';

export const applyJob: JobHandler = async (ctx, { body, resumed }) => {
  const capabilities = Array.isArray(body.capabilities) ? body.capabilities.filter((capability): capability is string => typeof capability === 'string') : [];
  if (typeof body.spec !== 'string') return deploySpec(ctx, await lastAppliedSpec(ctx), resumed, capabilities);
  const spec = await receivedSpec(ctx, body.spec);
  return { ...(await deploySpec(ctx, spec, resumed, capabilities)), appliedSpec: body.spec };
};
