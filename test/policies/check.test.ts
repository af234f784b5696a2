import t from 'tap';
import { policySettingsProblems, renderPolicyReport, runPolicies } from '../../policies/check.js';
import { POLICY_RULE_NAMES } from '../../policies/rule-names.js';
import { RULES } from '../../policies/rules/index.js';
import { validateBoxSpec } from '../../stacks/spec/validate.js';
import { homeBox } from '../helpers/box-spec.js';
import { pinnedCatalog, plan, unpinnedCatalog } from '../helpers/policies.js';

/** The home box without its signed policy downgrades, so every rule is at its own level. */
const withoutDowngrades = (spec: { spec: { policy?: unknown } }) => delete spec.spec.policy;

t.test('every rule has a unique name, a description, a remediation and at least one tier', async (t) => {
  t.equal(new Set(RULES.map((rule) => rule.name)).size, RULES.length);
  for (const rule of RULES) {
    t.ok(rule.description.length > 20 && rule.remediation.length > 20 && rule.tiers.length > 0, rule.name);
    t.ok(rule.checkResource || rule.checkStack, `${rule.name} checks something`);
  }
});

t.test('a hardened home box passes every rule that applies to its host and guest tiers', async (t) => {
  const report = runPolicies(await plan(homeBox(withoutDowngrades), ['host', 'guest'], pinnedCatalog));
  t.same(report.rules.filter((rule) => rule.status === 'fail').map((rule) => rule.violations), []);
  t.equal(report.passed, true);
  t.equal(report.mandatoryViolations, 0);
  t.equal(report.rules.find((rule) => rule.name === 'geo-matches-spec')!.status, 'skipped', 'the edge tier was not planned');
});

t.test('a mandatory violation fails the report and names its tier', async (t) => {
  const report = runPolicies(await plan(homeBox(withoutDowngrades), ['host', 'guest'], unpinnedCatalog));
  const images = report.rules.find((rule) => rule.name === 'images-pinned')!;
  t.equal(images.status, 'fail');
  t.equal(images.level, 'mandatory');
  t.ok(images.violations.length > 0);
  t.same([...new Set(images.violations.map((v) => v.tier))], ['guest']);
  t.equal(report.passed, false);
});

t.test('spec.policy.advisory downgrades a rule: it still reports but no longer fails the plan', async (t) => {
  const result = await plan(homeBox((spec) => (spec.spec.policy = { advisory: ['images-pinned'] })), ['host', 'guest'], unpinnedCatalog);
  const report = runPolicies(result);
  const images = report.rules.find((rule) => rule.name === 'images-pinned')!;
  t.equal(images.status, 'fail');
  t.equal(images.level, 'advisory');
  t.equal(images.downgraded, true);
  t.ok(images.violations.length > 0);
  t.equal(report.mandatoryViolations, 0);
  t.equal(report.passed, true);
  t.match(renderPolicyReport(report).join('\n'), /WARN {2}images-pinned {2}\[advisory \(downgraded by spec\.policy\.advisory\)\]/);
});

t.test('an unknown rule name in spec.policy.advisory is an error that fails the check', async (t) => {
  // validate refuses such a spec (below); the policy host checks again for a box resolved elsewhere.
  const planned = await plan(homeBox((spec) => (spec.spec.policy = { advisory: ['images-pinned'] })), ['host']);
  const result = { ...planned, box: { ...planned.box, advisoryRules: ['images-pinned', 'no-such-rule'] } };
  const report = runPolicies(result);
  t.same(report.problems, [{ path: 'spec.policy.advisory[1]', message: `unknown policy rule "no-such-rule"; known rules: ${RULES.map((r) => r.name).join(', ')}` }]);
  t.equal(report.passed, false);
  t.same(policySettingsProblems(result.box).length, 1);
  t.match(renderPolicyReport(report).join('\n'), /ERROR spec\.policy\.advisory\[1\]: unknown policy rule "no-such-rule"/);
});

t.test('the human report lists each rule with PASS, FAIL or SKIP and its messages', async (t) => {
  const lines = renderPolicyReport(runPolicies(await plan(homeBox(withoutDowngrades), ['host'])));
  t.equal(lines[0], 'policies for box hb-0001:');
  t.ok(lines.includes('  PASS  guest-hardening  [mandatory]'));
  t.ok(lines.includes('  SKIP  images-pinned  [mandatory]'));
  t.match(lines.at(-1)!, /^policy check (passed|failed)/);
});

t.test('the real edge plan of the home box passes exposure and geo', async (t) => {
    const report = runPolicies(await plan(homeBox(), ['edge']));
    for (const name of ['exposure', 'geo-matches-spec', 'tier-boundary', 'no-plaintext-secrets']) {
      const outcome = report.rules.find((rule) => rule.name === name)!;
      t.same(outcome.violations, [], name);
      t.equal(outcome.status, 'pass', name);
    }
});

t.test('the rule names the spec validator knows are the rules themselves, and validate refuses an unknown one', async (t) => {
  t.same(POLICY_RULE_NAMES, RULES.map((rule) => rule.name));
  const result = validateBoxSpec(homeBox((spec) => (spec.spec.policy = { advisory: ['images-pinned', 'no-such-rule'] })));
  t.same(result.ok ? [] : result.problems.map((problem) => problem.path), ['spec.policy.advisory[1]']);
});
