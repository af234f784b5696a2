/**
 * Engine plumbing: one engine operation (preview, up, refresh, destroy) on a spec, with the tier
 * program, the stack target (plugins, policy pack), preflight, recovery of a killed run, and the
 * stop signal's grace period. Job handlers and the spec deploy call {@link engineOp}.
 */
import { join } from 'node:path';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import type { EngineOperation, EngineOutcome, StackTarget } from '../engine/run.js';
import type { TierEnvironment } from '../../stacks/environment.js';
import type { ResolvedBox } from '../../stacks/spec/resolve.js';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { AgentContext } from './context.js';

/** What the restore mode adds to a tier program's environment. */
export type ProgramExtras = Pick<TierEnvironment, 'adoptGuests' | 'storagesOnly'>;

export const DEFAULT_GRACE_MS = 120_000;

/** One engine operation; a resumed job first clears what a killed engine left behind. */
export async function engineOp(ctx: AgentContext, operation: EngineOperation, spec: BoxSpec, resumed: boolean, box?: ResolvedBox, extra: ProgramExtras = {}): Promise<EngineOutcome> {
  const resolved = box ?? ctx.spec.resolve(spec);
  const program = await tierProgram(ctx, spec, resolved, extra);
  const target = await stackTarget(ctx, resolved);
  const engines = ctx.engine.engines;
  // A missing plugin is a stalled failure before any engine starts.
  await engines.preflight(target);
  const signal = engineSignal(ctx);
  try {
    if (resumed) await engines.recover(program, target, { logger: ctx.log, ...(signal ? { signal: signal.signal } : {}) });
    ctx.counters.engineRuns += 1;
    return await engines.run(operation, program, target, { logger: ctx.log, ...(signal ? { signal: signal.signal } : {}) });
  } finally {
    signal?.dispose();
  }
}

async function tierProgram(ctx: AgentContext, spec: BoxSpec, resolved: ResolvedBox, extra: ProgramExtras): Promise<PulumiFn> {
  // Loaded here, not at start: it brings in the Pulumi SDK, which an idle agent does not need.
  const { agentEnvironment } = await import('./environment.js');
  const env: TierEnvironment = await agentEnvironment(spec, { layout: ctx.stores.layout, env: ctx.runtime.env ?? process.env, secrets: ctx.secrets, needsProxmoxToken: ctx.tier === 'host' });
  return ctx.engine.programFor(ctx.tier, resolved, { ...env, ...extra });
}

async function stackTarget(ctx: AgentContext, box: ResolvedBox): Promise<StackTarget> {
  const { requiredPlugins, policyPack } = ctx.engine;
  const plugins = requiredPlugins ? await requiredPlugins(ctx.tier) : undefined;
  return {
    projectName: ctx.engine.projectName ?? 'felhom',
    stackName: ctx.stackName,
    stateDir: ctx.stores.layout.engine,
    ...(ctx.engine.stateBackend ? { backendUrl: ctx.engine.stateBackend } : {}),
    passphrase: ctx.engine.passphrase,
    ...(plugins ? { requiredPlugins: plugins } : {}),
    ...(policyPack !== undefined ? await policyTarget(ctx, box, policyPack) : {}),
  };
}

/** The pack, and the resolved box it reads (FELHOM_POLICY_BOX) written beside the engine state. */
async function policyTarget(ctx: AgentContext, box: ResolvedBox, pack: string): Promise<Pick<StackTarget, 'policyPacks' | 'envVars'>> {
  const { POLICY_BOX_ENV, writePolicyBox } = await import('../../policies/pack.js');
  const file = join(ctx.stores.layout.root, `policy-box.${ctx.tier}.json`);
  await writePolicyBox(box, file);
  return { policyPacks: [pack], envVars: { [POLICY_BOX_ENV]: file } };
}

/** Aborts `graceMs` after the stop signal: the engine gets that long to finish on its own. */
function engineSignal(ctx: AgentContext): { signal: AbortSignal; dispose: () => void } | undefined {
  return graceSignal(ctx.runtime.stopSignal, ctx.engine.graceMs ?? DEFAULT_GRACE_MS, ctx.log);
}

/** A signal that aborts `graceMs` after `stop` (the agent's and the controller's engine runs). */
export function graceSignal(stop: AbortSignal | undefined, graceMs: number, log: { warn(message: string, fields?: Record<string, unknown>): void }): { signal: AbortSignal; dispose: () => void } | undefined {
  if (!stop) return undefined;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onStop = () => {
    log.warn('stop requested; letting the engine operation finish', { graceMs });
    timer = setTimeout(() => controller.abort(), graceMs);
  };
  if (stop.aborted) onStop();
  else stop.addEventListener('abort', onStop, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      stop.removeEventListener('abort', onStop);
      if (timer) clearTimeout(timer);
    },
  };
}
