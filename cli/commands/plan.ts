import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { loadBoxSpec } from '../../stacks/spec/load.js';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { BoxPlan, PlannedResource } from '../../stacks/plan.js';

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
      .option('--json', 'print { tiers: { <tier>: { resources: [...] } } }');
  },
  async run({ out, cwd }, [file], options) {
    const tiers = parseTiers(options.tier);
    const catalog = catalogLookup();
    const spec = await loadBoxSpec(resolve(cwd, file!), { catalog });
    // Pulumi and the providers load only once the spec is known to be valid.
    const { planBox, plannedResources } = await import('../../stacks/plan.js');
    const result: BoxPlan = await planBox(spec, { tiers, catalog });
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
    return status;
  },
};

export default plan;
