/**
 * The engine host: the same rules as a @pulumi/policy PolicyPack, for `policyPacks` in the
 * Automation API and `pulumi preview --policy-pack <dir>` (docs/policies.md#in-the-engine).
 *
 * This module only builds the pack's arguments: constructing a `PolicyPack` starts a gRPC
 * server and never returns, so that happens in the entry point alone (policies/policy-pack/index.ts).
 *
 * Box context: rules that need the resolved spec read it from the JSON file named by
 * FELHOM_POLICY_BOX (written with {@link writePolicyBox}). The engine starts the pack with its
 * own environment, which the Automation API's `envVars` set, so the runner sets it there. The
 * tier comes from each resource's URN (stacks are `<box>.<tier>`).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { UnknownValueError, type Policies, type PolicyPackArgs, type ReportViolation, type ResourceValidationArgs, type StackValidationArgs } from '@pulumi/policy';
import type { ResolvedBox } from '../stacks/spec/resolve.js';
import { effectiveLevel } from './check.js';
import { RULES } from './rules/index.js';
import { tierOfUrn, UNKNOWN, type PolicyContext, type PolicyResource, type PolicyRule } from './types.js';
import { POLICY_BOX_ENV, PolicyBoxError } from './pack-directory.js';

export { compiledPolicyPackDirectory, POLICY_BOX_ENV, POLICY_PACK_NAME, POLICY_PACK_PACKAGE_JSON, POLICY_PACK_VERSION, PolicyBoxError, policyPackDirectory, PULUMI_POLICY_YAML } from './pack-directory.js';

/** Writes the resolved box for the pack; pass the path as FELHOM_POLICY_BOX in the engine's env. */
export async function writePolicyBox(box: ResolvedBox, file: string): Promise<void> {
  await writeFile(file, `${JSON.stringify(box)}\n`, { mode: 0o600 });
}

/** The resolved box named by FELHOM_POLICY_BOX; undefined when unset. Throws when set but unreadable. */
export function loadPolicyBox(env: NodeJS.ProcessEnv = process.env): ResolvedBox | undefined {
  const file = env[POLICY_BOX_ENV];
  if (!file) return undefined;
  let box: unknown;
  try {
    box = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PolicyBoxError(`${POLICY_BOX_ENV}=${file}: cannot read the box context (${(error as Error).message})`, { cause: error });
  }
  const candidate = box as Partial<ResolvedBox> | null;
  if (!candidate || typeof candidate.box !== 'string' || !Array.isArray(candidate.guests) || !Array.isArray(candidate.advisoryRules)) {
    throw new PolicyBoxError(`${POLICY_BOX_ENV}=${file}: expected a resolved box spec (writePolicyBox), got something else`);
  }
  return candidate as ResolvedBox;
}

/**
 * A plain copy of the analyzer's props. @pulumi/policy hands a proxy that throws
 * UnknownValueError on values not known during preview; those become {@link UNKNOWN}, so a rule
 * can skip them instead of the whole policy downgrading to "can't run during preview".
 */
export function plainProps(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  const read = (container: Record<string | number, unknown>, key: string | number) => {
    try {
      return plainProps(container[key]);
    } catch (error) {
      if (error instanceof UnknownValueError) return UNKNOWN;
      throw error;
    }
  };
  if (Array.isArray(value)) return value.map((_, index) => read(value as unknown as Record<number, unknown>, index));
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = read(value as Record<string, unknown>, key);
  return copy;
}

/** `...::felhom:guest:AppStack$docker:index/container:Container::name` → the parent's type. */
function parentTypeOfUrn(urn: string): string | undefined {
  const qualified = urn.split('::')[2] ?? '';
  const chain = qualified.split('$');
  return chain.length > 1 ? chain.at(-2) : undefined;
}

/** The analyzer's view of a resource as a rule sees it. Secretness is not visible here. */
export function fromAnalyzer(resource: { type: string; name: string; urn: string; props: Record<string, unknown>; opts: { protect: boolean; parent?: string } }): PolicyResource {
  const parentUrn = resource.opts.parent;
  const parentType = parentTypeOfUrn(resource.urn);
  return {
    type: resource.type,
    name: resource.name,
    urn: resource.urn,
    ...(parentUrn ? { parent: parentUrn.slice(parentUrn.lastIndexOf('::') + 2) } : {}),
    ...(parentType ? { parentType } : {}),
    inputs: plainProps(resource.props) as Record<string, unknown>,
    protect: resource.opts.protect,
  };
}

function contextFor(urn: string, box: ResolvedBox | undefined): PolicyContext | undefined {
  const tier = tierOfUrn(urn);
  return tier ? { tier, ...(box ? { box } : {}) } : undefined;
}

/** One rule as a PolicyPack policy: its resource check as validateResource, its stack check as validateStack. */
export function toPackPolicy(rule: PolicyRule, box: ResolvedBox | undefined): Policies[number] {
  const base = {
    name: rule.name,
    description: rule.description,
    enforcementLevel: effectiveLevel(rule, box).level,
    remediationSteps: rule.remediation,
  };
  const unavailable = rule.notInPack ?? (rule.needsBox && !box ? `needs the box spec: set ${POLICY_BOX_ENV} to a file written by writePolicyBox` : undefined);
  if (unavailable) {
    return { ...base, validateStack: (args: StackValidationArgs) => args.notApplicable(unavailable) };
  }
  const policy: Record<string, unknown> = { ...base };
  if (rule.checkResource) {
    const check = rule.checkResource;
    policy.validateResource = (args: ResourceValidationArgs, report: ReportViolation) => {
      const context = contextFor(args.urn, box);
      if (!context || !rule.tiers.includes(context.tier)) return;
      const parent = args.opts.parent;
      for (const message of check(fromAnalyzer({ ...args, opts: { protect: args.opts.protect, ...(parent ? { parent } : {}) } }), context)) report(message);
    };
  }
  if (rule.checkStack) {
    const check = rule.checkStack;
    policy.validateStack = (args: StackValidationArgs, report: ReportViolation) => {
      const first = args.resources.find((resource) => tierOfUrn(resource.urn));
      const context = first ? contextFor(first.urn, box) : undefined;
      if (!context || !rule.tiers.includes(context.tier)) return;
      const resources = args.resources.map((resource) =>
        fromAnalyzer({ ...resource, opts: { protect: resource.opts.protect, ...(resource.parent ? { parent: resource.parent.urn } : {}) } }),
      );
      for (const violation of check(resources, context)) report(violation.message, violation.urn);
    };
  }
  return policy as unknown as Policies[number];
}

/** The Felhom PolicyPack's arguments, from the same rule functions `felhom policy check` runs. */
export function policyPackArgs(box: ResolvedBox | undefined, rules: readonly PolicyRule[] = RULES): PolicyPackArgs {
  return {
    description: 'Felhom invariants: tier boundary, guest hardening, data placement, backups, protection, secrets, exposure, images, geo (docs/policies.md)',
    policies: rules.map((rule) => toPackPolicy(rule, box)),
  };
}

