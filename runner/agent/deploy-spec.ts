/**
 * A spec deploy: the destructive-step gate, snapshot-before-deploy, up, health check, keep or
 * roll back (docs/agent.md). A spec envelope's apply step and the `apply` job both end here.
 */
import { checkDestructiveSteps, DestructiveStepError } from '../../policies/rules/stateful-protected.js';
import type { ChangeCounts } from '../engine/run.js';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { AgentContext } from './context.js';
import { existingGuests, planDeploy, runDeploy } from './deploy.js';
import { engineOp } from './engine-op.js';
import { AgentError } from './errors.js';

export async function deploySpec(ctx: AgentContext, spec: BoxSpec, resumed: boolean, capabilities: readonly string[] = []): Promise<{ counts?: ChangeCounts }> {
  const box = ctx.spec.resolve(spec);
  const ops = ctx.host.operations;
  // The stateful-protected policy in the engine (docs/policies.md): analyzer policies never see
  // a delete or a replacement, so the host tier previews a change to existing state first and
  // refuses one that would destroy a guest or a storage. A spec carries no capability to allow
  // it; `protect` would stop the engine too, but only half-way through an update.
  // With the policy pack the preview comes first on every tier: a mandatory violation stops
  // the deploy there, before the up could change anything.
  if (ctx.engine.policyPack !== undefined || (ctx.tier === 'host' && ctx.stores.journal.lastApplied(ctx.box, ctx.tier))) {
    const preview = await engineOp(ctx, 'preview', spec, resumed, box);
    resumed = false;
    const blocked = checkDestructiveSteps(preview.steps, capabilities);
    if (blocked.length > 0) throw new AgentError('EPOLICY_DESTRUCTIVE', 'stalled', new DestructiveStepError(blocked).message);
  }
  const guests = ctx.tier === 'host' ? box.guests.map((guest) => ({ name: guest.name, vmId: guest.vmId })) : [];
  const plan = planDeploy({
    snapshotBeforeDeploy: box.backup.snapshotBeforeDeploy,
    guests,
    // A guest this deploy creates has nothing to snapshot yet (the first deploy on a new host).
    existing: await existingGuests(ops, guests.map((guest) => guest.vmId)),
    hostOperations: ops !== undefined,
    snapshotName: `felhom-predeploy-${ctx.now().toISOString().replace(/\D/g, '').slice(0, 14)}`,
  });
  let counts: ChangeCounts | undefined;
  await runDeploy(plan, {
    ...(ops ? { ops } : {}),
    up: async () => {
      counts = (await engineOp(ctx, 'up', spec, resumed, box)).counts;
    },
    refresh: async () => {
      await engineOp(ctx, 'refresh', spec, false, box);
    },
  });
  return counts ? { counts } : {};
}
