/**
 * The policy gate before a spec is signed or applied: a mandatory violation refuses it with
 * {@link PolicyViolationError} (code EPOLICY_VIOLATION), naming each rule and its message. `felhom
 * sign` runs it over the offline plan (policies/check.ts); the agent raises the same error when
 * the engine's policy pack stops a preview (runner/engine/run.ts).
 */
import type { PolicyReport } from './check.js';
import { FelhomError } from '../lib/errors.js';

/** One mandatory violation as a person reads it. */
export interface MandatoryViolation {
  readonly rule: string;
  readonly message: string;
  /** The resource it is about, when the rule named one. */
  readonly urn?: string;
}

/**
 * How violations read, wherever they were found: `mandatory policies <rules> failed<where>: <first
 * message> (and N more)`, and one `<rule>: <message>` detail line each.
 */
export function describeViolations(violations: readonly MandatoryViolation[], where = ''): { message: string; details: string[] } {
  const rules = [...new Set(violations.map((violation) => violation.rule))];
  const more = violations.length > 1 ? ` (and ${violations.length - 1} more)` : '';
  return {
    message: `mandatory polic${rules.length === 1 ? 'y' : 'ies'} ${rules.join(', ')} failed${where}: ${violations[0]?.message ?? 'no message'}${more}`,
    details: violations.map((violation) => `${violation.rule}: ${violation.message}`),
  };
}

/** A mandatory policy rule failed: nothing was signed or changed. Stalled: the spec must change. */
export class PolicyViolationError extends FelhomError {
  declare readonly kind: 'stalled';
  readonly violations: readonly MandatoryViolation[];
  /** `details`: one line per violation, `<rule>: <message>`. */
  constructor(prefix: string, violations: readonly MandatoryViolation[], options: { cause?: unknown } = {}) {
    const { message, details } = describeViolations(violations);
    super('EPOLICY_VIOLATION', 'stalled', `${prefix}: ${message}`, { ...options, details });
    this.violations = violations;
  }
}

/** The mandatory violations of an offline policy report, and its settings problems as violations of `policy-settings`. */
export function mandatoryViolations(report: PolicyReport): MandatoryViolation[] {
  return [
    ...report.rules
      .filter((outcome) => outcome.level === 'mandatory')
      .flatMap((outcome) => outcome.violations.map((violation) => ({ rule: outcome.name, message: violation.message, ...(violation.urn ? { urn: violation.urn } : {}) }))),
    ...report.problems.map((problem) => ({ rule: 'policy-settings', message: `${problem.path}: ${problem.message}` })),
  ];
}

/** Throws {@link PolicyViolationError} when the report has a mandatory violation or a settings problem. */
export function refuseMandatoryViolations(report: PolicyReport, prefix: string): void {
  const violations = mandatoryViolations(report);
  if (violations.length > 0) throw new PolicyViolationError(prefix, violations);
}
