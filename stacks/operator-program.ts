/**
 * What the entry program `Pulumi.yaml` names (stacks/main.ts) runs, for an operator's
 * `pulumi preview` by hand:
 *
 *   FELHOM_SPEC=examples/home-box.yaml pulumi preview --stack hb-0001.host [--policy-pack <dir>]
 *
 * The stack name `<box>.<tier>` picks the tier; FELHOM_SPEC names the box spec, whose box id
 * must be the stack's. The spec is validated and resolved as `felhom plan` and the agent do.
 * The tier program runs with the placeholder secrets of `felhom preview`; an operator who wants
 * the providers to read real state passes the tier's credential in the environment
 * (FELHOM_PROXMOX_API_TOKEN, FELHOM_CLOUDFLARE_API_TOKEN, DOCKER_HOST), as a Pulumi secret.
 * docs/engine.md.
 */
import { resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { loadGoldenTemplate } from '../templates/lib/golden.js';
import { planEnvironment, type TierEnvironment } from './environment.js';
import { tierProgram } from './index.js';
import { catalogLookup } from './spec/catalog.js';
import { loadBoxSpec } from './spec/load.js';
import { resolveBox } from './spec/resolve.js';
import { TIERS, type Tier } from './spec/types.js';

/** `hb-0001.host` → { box: 'hb-0001', tier: 'host' }; anything else is refused naming the form. */
export function parseStackName(stack: string): { box: string; tier: Tier } {
  const dot = stack.lastIndexOf('.');
  const box = stack.slice(0, dot);
  const tier = stack.slice(dot + 1) as Tier;
  if (dot <= 0 || !TIERS.includes(tier)) {
    throw new Error(`stack ${JSON.stringify(stack)}: expected <box>.<tier> with a tier of ${TIERS.join(', ')} (e.g. hb-0001.host)`);
  }
  return { box, tier };
}

/** The preview environment: placeholders, with the credentials the operator's environment gives. */
export function operatorEnvironment(env: NodeJS.ProcessEnv): TierEnvironment {
  const placeholders = planEnvironment();
  const proxmox = env.FELHOM_PROXMOX_API_TOKEN;
  const cloudflare = env.FELHOM_CLOUDFLARE_API_TOKEN;
  return {
    ...placeholders,
    ...(proxmox ? { proxmoxApiToken: () => pulumi.secret(proxmox) } : {}),
    ...(cloudflare ? { cloudflareApiToken: () => pulumi.secret(cloudflare) } : {}),
    ...(env.DOCKER_HOST ? { dockerHost: env.DOCKER_HOST } : {}),
  };
}

/** Runs the tier program the stack names for the spec FELHOM_SPEC names. */
export async function mainProgram(stack: string = pulumi.getStack(), env: NodeJS.ProcessEnv = process.env): Promise<Record<string, unknown>> {
  const { box, tier } = parseStackName(stack);
  const specFile = env.FELHOM_SPEC;
  if (!specFile) throw new Error('FELHOM_SPEC: set it to the box spec file of this stack (e.g. FELHOM_SPEC=examples/home-box.yaml)');
  const catalog = catalogLookup();
  const spec = await loadBoxSpec(resolve(specFile), { catalog });
  if (spec.metadata.box !== box) throw new Error(`FELHOM_SPEC names box ${spec.metadata.box}, but stack ${stack} is box ${box}`);
  const golden = loadGoldenTemplate();
  return tierProgram(tier, resolveBox(spec, catalog, golden.sizing), golden, operatorEnvironment(env))();
}

