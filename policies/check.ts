/**
 * The offline policy host: runs every rule over a box plan (the mock runtime's records of each
 * planned tier) and reports each rule as passing or failing. `felhom policy check`, `felhom
 * plan` and CI call this; the engine runs the same rules through policies/pack.ts.
 */
import type { RecordedResource } from '../stacks/mock-runtime.js';
import type { BoxPlan } from '../stacks/plan.js';
import type { ResolvedBox } from '../stacks/spec/resolve.js';
import type { Tier } from '../stacks/spec/types.js';
import { unknownAdvisoryRules } from './rule-names.js';
import { RULES } from './rules/index.js';
import type { EnforcementLevel, PolicyContext, PolicyResource, PolicyRule, Violation } from './types.js';

export interface ReportedViolation extends Violation {
  readonly tier: Tier;
}

export interface RuleOutcome {
  readonly name: string;
  readonly description: string;
  /** The level this box runs the rule at, after `spec.policy.advisory`. */
  readonly level: EnforcementLevel;
  /** True when the signed spec downgraded a mandatory rule to advisory. */
  readonly downgraded: boolean;
  /** `skipped`: none of the rule's tiers was planned. */
  readonly status: 'pass' | 'fail' | 'skipped';
  readonly violations: readonly ReportedViolation[];
}

/** A problem with the box's policy settings themselves. */
export interface PolicySettingsProblem {
  readonly path: string;
  readonly message: string;
}

export interface PolicyReport {
  readonly box: string;
  readonly rules: readonly RuleOutcome[];
  readonly problems: readonly PolicySettingsProblem[];
  /** Violations of rules at mandatory level. */
  readonly mandatoryViolations: number;
  /** No mandatory violation and no settings problem: the plan may proceed. */
  readonly passed: boolean;
}

/** A mock-runtime record as a rule sees it. */
export function fromRecord(record: RecordedResource): PolicyResource {
  return {
    type: record.type,
    name: record.name,
    urn: record.urn,
    ...(record.parent !== undefined ? { parent: record.parent } : {}),
    ...(record.parentType !== undefined ? { parentType: record.parentType } : {}),
    inputs: record.inputs,
    secretPaths: record.secretPaths,
    protect: record.options.protect,
  };
}

/** The level a rule runs at for a box, and whether the box's signed spec downgraded it. */
export function effectiveLevel(rule: PolicyRule, box: ResolvedBox | undefined): { level: EnforcementLevel; downgraded: boolean } {
  const level = box && rule.levelFor ? rule.levelFor(box) : rule.level;
  if (level === 'mandatory' && box?.advisoryRules.includes(rule.name)) return { level: 'advisory', downgraded: true };
  return { level, downgraded: false };
}

/** `spec.policy.advisory` entries that name no rule: an error, so a typo never silently keeps a rule mandatory. */
export function policySettingsProblems(box: ResolvedBox, rules: readonly PolicyRule[] = RULES): PolicySettingsProblem[] {
  return unknownAdvisoryRules(box.advisoryRules, rules.map((rule) => rule.name));
}

/** Runs one rule's resource and stack checks over one tier's resources. */
export function evaluateRule(rule: PolicyRule, resources: readonly PolicyResource[], context: PolicyContext): Violation[] {
  if (!rule.tiers.includes(context.tier)) return [];
  if (rule.needsBox && !context.box) return [];
  const violations: Violation[] = [];
  if (rule.checkResource) {
    for (const resource of resources) for (const message of rule.checkResource(resource, context)) violations.push({ urn: resource.urn, message });
  }
  if (rule.checkStack) violations.push(...rule.checkStack(resources, context));
  return violations;
}

/** Runs every rule over every planned tier of a box plan. */
export function runPolicies(plan: BoxPlan, rules: readonly PolicyRule[] = RULES): PolicyReport {
  const box = plan.box;
  const planned = Object.entries(plan.tiers) as [Tier, NonNullable<BoxPlan['tiers'][Tier]>][];
  const outcomes = rules.map((rule): RuleOutcome => {
    const { level, downgraded } = effectiveLevel(rule, box);
    const tiers = planned.filter(([tier]) => rule.tiers.includes(tier));
    const violations = tiers.flatMap(([tier, tierPlan]) =>
      evaluateRule(rule, tierPlan.records.map(fromRecord), { tier, box }).map((violation) => ({ ...violation, tier })),
    );
    const status = tiers.length === 0 ? 'skipped' : violations.length > 0 ? 'fail' : 'pass';
    return { name: rule.name, description: rule.description, level, downgraded, status, violations };
  });
  const problems = policySettingsProblems(box, rules);
  const mandatoryViolations = outcomes.filter((outcome) => outcome.level === 'mandatory').reduce((sum, outcome) => sum + outcome.violations.length, 0);
  return { box: box.box, rules: outcomes, problems, mandatoryViolations, passed: mandatoryViolations === 0 && problems.length === 0 };
}

/** Human lines: one per rule (PASS/FAIL/WARN/SKIP), its violations indented under it. */
export function renderPolicyReport(report: PolicyReport): string[] {
  const lines = [`policies for box ${report.box}:`];
  for (const outcome of report.rules) {
    const mark = outcome.status === 'skipped' ? 'SKIP' : outcome.status === 'pass' ? 'PASS' : outcome.level === 'mandatory' ? 'FAIL' : 'WARN';
    const level = outcome.downgraded ? 'advisory (downgraded by spec.policy.advisory)' : outcome.level;
    lines.push(`  ${mark}  ${outcome.name}  [${level}]`);
    for (const violation of outcome.violations) lines.push(`        ${violation.tier}: ${violation.message}`);
  }
  for (const problem of report.problems) lines.push(`  ERROR ${problem.path}: ${problem.message}`);
  const failing = report.rules.filter((outcome) => outcome.status === 'fail');
  lines.push(
    report.passed
      ? `policy check passed${failing.length > 0 ? ` with ${failing.length} advisory rule(s) reporting` : ''}`
      : `policy check failed: ${report.mandatoryViolations} mandatory violation(s)${report.problems.length > 0 ? `, ${report.problems.length} policy settings error(s)` : ''}`,
  );
  return lines;
}
