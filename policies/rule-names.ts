/**
 * The names of the policy rules (policies/rules/index.ts), without loading the rules: the box
 * spec validator checks `spec.policy.advisory` with the same function the policy host uses, and
 * test/policies/rule-names.test.ts keeps this list equal to the rules' own names.
 */
import type { Problem } from '../templates/lib/problems.js';

export const POLICY_RULE_NAMES: readonly string[] = [
  'tier-boundary',
  'guest-hardening',
  'data-placement',
  'backups-are-real',
  'stateful-protected',
  'no-plaintext-secrets',
  'exposure',
  'images-pinned',
  'geo-matches-spec',
];

/** `spec.policy.advisory` entries that name no rule: an error, so a typo never silently keeps a rule mandatory. */
export function unknownAdvisoryRules(advisory: readonly string[], known: readonly string[] = POLICY_RULE_NAMES): Problem[] {
  return advisory.flatMap((name, index) =>
    known.includes(name) ? [] : [{ path: `spec.policy.advisory[${index}]`, message: `unknown policy rule "${name}"; known rules: ${known.join(', ')}` }],
  );
}
