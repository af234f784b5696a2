import t from 'tap';
import {
  ComponentArgsError,
  assertValidArgs,
  checkRules,
  duplicates,
  integerBetween,
  isAbsolutePath,
  isHostname,
  isIpv4,
  isIpv4Cidr,
  isProxmoxId,
  nonEmpty,
  shown,
  type Rule,
} from '../../components/validation.js';
import { describeFailure } from '../../cli/errors.js';

interface Sample {
  readonly size: number;
  readonly name: string;
}

const rules: readonly Rule<Sample>[] = [
  { field: 'size', check: (a) => integerBetween(a.size, 1, 10) },
  { field: 'name', check: (a) => nonEmpty(a.name) },
];

t.test('checkRules returns every broken rule in table order', async (t) => {
  t.same(checkRules(rules, { size: 5, name: 'ok' }), []);
  t.same(checkRules(rules, { size: 0, name: '' }), [
    { field: 'size', message: 'expected an integer from 1 to 10, got 0' },
    { field: 'name', message: 'expected a non-empty string, got ""' },
  ]);
});

t.test('assertValidArgs throws a ComponentArgsError naming the component, the resource and every problem', async (t) => {
  t.doesNotThrow(() => assertValidArgs('felhom:test:Sample', 's', rules, { size: 5, name: 'ok' }));
  try {
    assertValidArgs('felhom:test:Sample', 's', rules, { size: 11, name: ' x' });
    t.fail('expected a throw');
  } catch (error) {
    t.type(error, ComponentArgsError);
    const argsError = error as ComponentArgsError;
    t.equal(argsError.code, 'ECOMPONENTARGS');
    t.equal(describeFailure(argsError).exitCode, 1);
    t.equal(argsError.name, 'ComponentArgsError');
    t.equal(argsError.component, 'felhom:test:Sample');
    t.equal(argsError.resourceName, 's');
    t.same(argsError.problems.map((p) => p.field), ['size', 'name']);
    t.equal(argsError.message, 'felhom:test:Sample "s": 2 invalid arguments: size: expected an integer from 1 to 10, got 11; name: expected a non-empty string, got " x"');
  }
  t.match(new ComponentArgsError('c', 'n', [{ field: 'f', message: 'm' }]).message, /1 invalid argument: f: m$/);
});

t.test('predicates accept what they should and refuse the rest', async (t) => {
  t.ok(isIpv4('192.168.1.1'));
  t.notOk(isIpv4('256.1.1.1'));
  t.notOk(isIpv4(7));
  t.ok(isIpv4Cidr('10.0.0.1/8'));
  t.notOk(isIpv4Cidr('10.0.0.1'));
  t.notOk(isIpv4Cidr('10.0.0.1/33'));
  t.notOk(isIpv4Cidr('10.0.0.1/8/8'));
  t.notOk(isIpv4Cidr(null));
  t.ok(isHostname('photos.example.com'));
  t.notOk(isHostname('-bad.example.com'));
  t.notOk(isHostname(''));
  t.notOk(isHostname('Upper.example.com'));
  t.ok(isProxmoxId('local-lvm'));
  t.notOk(isProxmoxId('1local'));
  t.ok(isAbsolutePath('/mnt/bulk'));
  t.notOk(isAbsolutePath('/mnt/../etc'));
  t.notOk(isAbsolutePath('mnt'));
  t.same(duplicates(['a', 'b', 'a', 'c', 'b', 'a']), ['a', 'b']);
  t.equal(integerBetween(2.5, 1, 3, 'GiB'), 'expected an integer from 1 to 3 GiB, got 2.5');
  t.equal(integerBetween(2, 1, 3), undefined);
});

t.test('shown quotes strings and renders everything else as JSON', async (t) => {
  t.equal(shown('a'), '"a"');
  t.equal(shown(undefined), 'nothing');
  t.equal(shown([1, 'b']), '[1,"b"]');
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  t.equal(shown(circular), '[object Object]');
  t.equal(shown(() => 1), '() => 1');
});
