import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { loadBoxSpec } from '../../stacks/spec/load.js';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { BoxPlan, PlanComparison, PlannedResource } from '../../stacks/plan.js';
import type { BoxSpec } from '../../stacks/spec/types.js';
import type { CatalogLookup } from '../../stacks/spec/validate.js';

/** Flattens inputs into `path = value` leaves, for the human tree. */
export function inputLeaves(value: unknown, path = ''): [string, string][] {
  if (Array.isArray(value)) {
    if (value.every((item) => item === null || typeof item !== 'object')) return [[path, `[${value.map((item) => String(item)).join(', ')}]`]];
    return value.flatMap((item, index) => inputLeaves(item, `${path}[${index}]`));
  }
  if (value && typeof value === 'object') {
    return Object.entries(value)
      .filter(([key]) => !key.startsWith('__'))
      .flatMap(([key, item]) => inputLeaves(item, path ? `${path}.${key}` : key));
  }
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return [[path, text.length > 100 ? `${text.slice(0, 97)}...` : text]];
}

function renderTier(lines: string[], tier: string, stack: string, resources: readonly PlannedResource[], withInputs: boolean): void {
  lines.push(`${tier} tier: stack ${stack}, ${resources.length} resources`);
  const children = new Map<string | undefined, PlannedResource[]>();
  for (const resource of resources) {
    const list = children.get(resource.parent) ?? [];
    list.push(resource);
    children.set(resource.parent, list);
  }
  const names = new Set(resources.map((resource) => resource.name));
  const walk = (parent: string | undefined, indent: string) => {
    for (const resource of children.get(parent) ?? []) {
      lines.push(`${indent}${resource.type}  ${resource.name}`);
      if (withInputs) for (const [key, value] of inputLeaves(resource.inputs)) lines.push(`${indent}    ${key} = ${value}`);
      walk(resource.name, `${indent}  `);
    }
  };
  walk(undefined, '  ');
  // A parent outside the plan (should not happen) must not hide its children.
  for (const [parent] of children) if (parent !== undefined && !names.has(parent)) walk(parent, '  ');
}

/**
 * The rename warnings of a comparison with the previous spec: each names old → new and the
 * stateful resources Pulumi would replace (docs/box-spec.md#names-are-identities).
 */
export function renderRenames(comparison: PlanComparison, previousFile: string): string[] {
  const lines: string[] = [];
  const listed = (refs: PlanComparison['deleted']) => refs.map((ref) => `  ${ref.tier}  ${ref.type}  ${ref.name}`);
  for (const rename of comparison.renames) {
    const what = rename.kind === 'box'
      ? `box "${rename.from}" → "${rename.to}" (against ${previousFile}) means new stacks (${rename.to}.<tier>): these stateful resources are created again there, while the old stacks still hold them`
      : `${rename.kind} "${rename.from}" → "${rename.to}" (against ${previousFile}) is a replacement, not a rename: spec names are Pulumi names, so these are deleted and created again`;
    lines.push(`warning: ${what}:`, ...listed(rename.replaced));
  }
  if (comparison.deleted.length > 0) lines.push(`warning: stateful resources of ${previousFile} that this spec deletes:`, ...listed(comparison.deleted));
  if (lines.length > 0) lines.push('see docs/box-spec.md#names-are-identities');
  return lines;
}

/** Loads and plans the previous spec (`--previous`) and compares it with this plan. */
export async function compareWithPrevious(previousFile: string, current: BoxPlan, tiers: readonly Tier[], catalog: CatalogLookup): Promise<PlanComparison> {
  const previousSpec: BoxSpec = await loadBoxSpec(previousFile, { catalog });
  const { planBox, comparePlans } = await import('../../stacks/plan.js');
  return comparePlans(await planBox(previousSpec, { tiers, catalog }), current);
}

export function parseTiers(option: unknown): Tier[] {
  if (option === undefined) return [...TIERS];
  const tiers = String(option).split(',').map((tier) => tier.trim());
  for (const tier of tiers) if (!TIERS.includes(tier as Tier)) throw usageError(`--tier expects edge, host or guest, got "${tier}"`);
  return tiers as Tier[];
}

/** `felhom plan <spec>`: validate, then run the tier programs under the mock runtime. */
const plan: CommandModule = {
  description: 'validate a box spec, then plan its tiers offline under mocked providers',
  configure(command: Command) {
    command
      .argument('<spec>', 'box spec file')
      .option('--tier <tiers>', 'edge, host, guest, or a comma-separated list (default: all)')
      .option('--brief', 'list resources without their inputs')
      .option('--previous <spec>', 'the spec applied now: warn about renames that would replace stateful resources')
      .option('--json', 'print { tiers: { <tier>: { resources: [...] } }, policies, renames?, deleted? }');
  },
  async run({ out, cwd }, [file], options) {
    const tiers = parseTiers(options.tier);
    const catalog = catalogLookup();
    const spec = await loadBoxSpec(resolve(cwd, file!), { catalog });
    // Pulumi and the providers load only once the spec is known to be valid.
    const { planBox, plannedResources } = await import('../../stacks/plan.js');
    const result: BoxPlan = await planBox(spec, { tiers, catalog });
    const previous = options.previous as string | undefined;
    const comparison = previous ? await compareWithPrevious(resolve(cwd, previous), result, tiers, catalog) : undefined;
    // Policy gate (policies/, docs/policies.md): every plan is checked; a mandatory violation exits 1.
    const { runPolicies, renderPolicyReport } = await import('../../policies/check.js');
    const policies = runPolicies(result);
    const status = policies.passed ? 0 : 1;
    // What the backup schedules promise per failure scope (docs/key-custody.md "Recovery objectives").
    const { recoveryObjectives, recoveryObjectiveLines } = await import('../../stacks/recovery-objectives.js');
    const objectives = recoveryObjectives(spec);
    if (options.json) {
      out.json({
        box: result.box.box,
        tiers: Object.fromEntries(Object.entries(result.tiers).map(([tier, planned]) => [tier, { stack: planned.stack, resources: plannedResources(planned) }])),
        policies,
        ...(comparison ? { renames: comparison.renames, deleted: comparison.deleted } : {}),
        recoveryObjectives: objectives,
      });
      return status;
    }
    const lines: string[] = [];
    for (const [tier, planned] of Object.entries(result.tiers)) {
      renderTier(lines, tier, planned.stack, plannedResources(planned), !options.brief);
      lines.push('');
    }
    for (const line of lines) out.line(line);
    for (const line of recoveryObjectiveLines(objectives)) out.line(line);
    out.line('');
    for (const line of renderPolicyReport(policies)) out.line(line);
    if (comparison) for (const line of renderRenames(comparison, previous!)) out.warn(line);
    return status;
  },
};

export default plan;
