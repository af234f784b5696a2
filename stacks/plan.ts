/**
 * `felhom plan`: the tier programs of a box spec run under Pulumi's mock runtime, offline, and
 * the resources each would register. No provider, engine or network is involved.
 */
import { loadGoldenTemplate, type GoldenTemplate } from '../templates/lib/golden.js';
import { planEnvironment } from './environment.js';
import { tierProgram } from './index.js';
import { recordProgram, type RecordedResource } from './mock-runtime.js';
import { resolveBox, type ResolvedBox } from './spec/resolve.js';
import { stackName, type BoxSpec, type Tier } from './spec/types.js';
import type { CatalogLookup } from './spec/validate.js';

export interface PlannedResource {
  readonly type: string;
  readonly name: string;
  /** The parent's name; absent for top-level resources. */
  readonly parent?: string;
  readonly inputs: Record<string, unknown>;
}

export interface TierPlan {
  readonly stack: string;
  /** What the tier registered, with parent types, secret paths and resource options (for policies). */
  readonly records: readonly RecordedResource[];
}

/** The plan's public view of a tier (`felhom plan --json`): type, name, parent, masked inputs. */
export function plannedResources(tier: TierPlan): PlannedResource[] {
  return tier.records.map((record) => ({
    type: record.type,
    name: record.name,
    ...(record.parent ? { parent: record.parent } : {}),
    inputs: record.inputs,
  }));
}

export interface BoxPlan {
  readonly box: ResolvedBox;
  readonly tiers: Partial<Record<Tier, TierPlan>>;
}

export interface PlanOptions {
  readonly tiers: readonly Tier[];
  readonly catalog: CatalogLookup;
  /** @default - templates/lxc/golden.yml */
  readonly golden?: GoldenTemplate;
}

/** Plans the given tiers of a validated spec, one after another (the mock runtime is global). */
export async function planBox(spec: BoxSpec, options: PlanOptions): Promise<BoxPlan> {
  const golden = options.golden ?? loadGoldenTemplate();
  const box = resolveBox(spec, options.catalog, golden.sizing);
  const tiers: Partial<Record<Tier, TierPlan>> = {};
  for (const tier of options.tiers) {
    const stack = stackName(box.box, tier);
    const { resources } = await recordProgram(tierProgram(tier, box, golden, planEnvironment()), { project: 'felhom', stack });
    tiers[tier] = { stack, records: resources };
  }
  return { box, tiers };
}
