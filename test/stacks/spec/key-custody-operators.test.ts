import t from 'tap';
import { catalogLookup } from '../../../stacks/spec/catalog.js';
import { validateBoxSpec } from '../../../stacks/spec/validate.js';
import { companyBox, homeBox } from '../../helpers/box-spec.js';

const problems = (spec: unknown) => {
  const result = validateBoxSpec(spec, { catalog: catalogLookup() });
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
};

t.test('operator-managed custody names, in the signed spec, the operator keys that can unwrap', async (t) => {
  t.same(problems(companyBox()), []);
  t.match(problems(companyBox((spec) => {
    delete spec.spec.backup.keyCustodyOperators;
  })), ['spec.backup.keyCustodyOperators: operator-managed key custody names the operator keys that can unwrap the key (their OpenPGP fingerprints)']);
  t.match(problems(homeBox((spec) => {
    spec.spec.backup.keyCustodyOperators = ['3A8F0C6E2B7D49E1A5C3F08B6D2E4A9107C5B3E8'];
  })), ['spec.backup.keyCustodyOperators: zero-knowledge-escrow key custody gives no operator a way in; name operator keys only with operator-managed']);
  t.match(problems(companyBox((spec) => {
    spec.spec.backup.keyCustodyOperators = ['not-a-fingerprint'];
  })), [/^spec\.backup\.keyCustodyOperators\[0\]: expected an OpenPGP fingerprint/]);
});
