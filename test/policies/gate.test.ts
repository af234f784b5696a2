// The policy gate before signing: a mandatory violation or a settings problem refuses, naming the rule.
import t from 'tap';
import { mandatoryViolations, PolicyViolationError, refuseMandatoryViolations } from '../../policies/gate.js';
import type { PolicyReport } from '../../policies/check.js';
import { describeFailure } from '../../cli/errors.js';

const report = (fields: Partial<PolicyReport>): PolicyReport => ({ box: 'hb-0001', rules: [], problems: [], mandatoryViolations: 0, passed: true, ...fields });
const outcome = (name: string, level: 'mandatory' | 'advisory', messages: string[]) => ({
  name,
  description: name,
  level,
  downgraded: false,
  status: messages.length > 0 ? ('fail' as const) : ('pass' as const),
  violations: messages.map((message) => ({ tier: 'guest' as const, message, urn: `urn:x::${name}` })),
});

t.test('advisory findings pass the gate; mandatory ones and settings problems refuse it', async (t) => {
  t.doesNotThrow(() => refuseMandatoryViolations(report({ rules: [outcome('images-pinned', 'advisory', ['by tag'])] }), 'x'));
  const failing = report({ rules: [outcome('images-pinned', 'mandatory', ['a by tag', 'b by tag']), outcome('exposure', 'mandatory', [])], problems: [{ path: 'spec.policy.advisory[0]', message: 'unknown policy rule "nope"' }] });
  t.same(mandatoryViolations(failing).map((violation) => violation.rule), ['images-pinned', 'images-pinned', 'policy-settings']);
  const error = (() => {
    try {
      refuseMandatoryViolations(failing, 'spec.yaml: refusing to sign');
    } catch (caught) {
      return caught;
    }
    return undefined;
  })();
  t.type(error, PolicyViolationError);
  t.match(error, {
    code: 'EPOLICY_VIOLATION',
    kind: 'stalled',
    message: 'spec.yaml: refusing to sign: mandatory policies images-pinned, policy-settings failed: a by tag (and 2 more)',
    details: ['images-pinned: a by tag', 'images-pinned: b by tag', 'policy-settings: spec.policy.advisory[0]: unknown policy rule "nope"'],
  });
  t.equal(describeFailure(error).exitCode, 1);
});
