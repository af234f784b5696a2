import t from 'tap';
import { describe, DOCUMENT_PATH, duplicates, formatProblem, isPlainObject, joinPath, parseYamlWithPositions, ProblemList, repeats } from '../../templates/lib/problems.js';
import { validateBoxSpec } from '../../stacks/spec/validate.js';
import { validateManifest } from '../../templates/lib/validate-manifest.js';
import { homeBox } from '../helpers/box-spec.js';

t.test('paths read like the document: dots for names, brackets for indexes and odd keys', async (t) => {
  t.equal(joinPath('spec', 'host'), 'spec.host');
  t.equal(joinPath('spec.apps', 2), 'spec.apps[2]');
  t.equal(joinPath('', 'spec'), 'spec');
  t.equal(joinPath('services[0].environment', 'A.B'), 'services[0].environment["A.B"]');
  t.equal(joinPath('tmpfs', '/run'), 'tmpfs["/run"]');
});

t.test('a path under the whole document starts at the key, not at "(document)"', async (t) => {
  t.equal(joinPath(DOCUMENT_PATH, 'services'), 'services');
  t.equal(joinPath(DOCUMENT_PATH, 'my key'), '["my key"]');
});

t.test('values are named the same way in every message', async (t) => {
  t.equal(describe(null), 'null');
  t.equal(describe(undefined), 'nothing');
  t.equal(describe([1, 2]), 'a list of 2');
  t.equal(describe({ a: 1 }), 'a mapping');
  t.equal(describe(3), 'number 3');
  t.equal(describe(false), 'boolean false');
  t.equal(describe('say "hi"\n'), '"say \\"hi\\"\\n"');
  t.equal(describe('x'.repeat(100)), `"${'x'.repeat(77)}..."`);
});

t.test('only a mapping is a plain object', async (t) => {
  t.ok(isPlainObject({}));
  t.notOk(isPlainObject([]));
  t.notOk(isPlainObject(null));
  t.notOk(isPlainObject('text'));
});

t.test('a problem prints as one line, the whole document as (document)', async (t) => {
  t.equal(formatProblem({ path: 'spec.host', message: 'required field is missing' }), 'spec.host: required field is missing');
  t.equal(formatProblem({ path: '', message: 'expected an object, got "x"' }), '(document): expected an object, got "x"');
  t.equal(formatProblem({ path: DOCUMENT_PATH, message: 'expected a mapping, got "x"' }), '(document): expected a mapping, got "x"');
});

t.test('the box spec and the catalog name a wrong value in the same words', async (t) => {
  const spec = validateBoxSpec(homeBox((s) => Object.assign(s.spec.guests[0]!, { name: ['a', 'b'] })));
  t.same(spec.ok ? [] : spec.problems.filter((problem) => problem.path === 'spec.guests[0].name'), [
    { path: 'spec.guests[0].name', message: 'expected a string, got a list of 2' },
  ]);
  t.same(validateManifest(['a', 'b']), [{ path: DOCUMENT_PATH, message: 'expected a mapping, got a list of 2' }]);
});

t.test('a YAML syntax error comes back with its line and column instead of being thrown', async (t) => {
  const parsed = parseYamlWithPositions('name: ok\nservices: [oops\n');
  t.equal(parsed.value, undefined);
  t.match(parsed.syntaxErrors[0], { line: Number, column: Number, message: String });
  t.notMatch(parsed.syntaxErrors[0]!.message, /\n/);
});

t.test('a duplicate key is a syntax error at the second key', async (t) => {
  const parsed = parseYamlWithPositions('name: a\nname: b\n');
  t.match(parsed.syntaxErrors, [{ line: 2, column: 1 }]);
});

t.test('lineOf finds the line of a path, or of its nearest ancestor that exists', async (t) => {
  const parsed = parseYamlWithPositions('spec:\n  apps:\n    - name: one\n    - name: two\n  env:\n    "a b": 1\n');
  t.same(parsed.value, { spec: { apps: [{ name: 'one' }, { name: 'two' }], env: { 'a b': 1 } } });
  t.equal(parsed.lineOf('spec.apps[1].name'), 4);
  t.equal(parsed.lineOf(joinPath('spec.env', 'a b')), 6);
  t.equal(parsed.lineOf('spec.apps[1].missing'), 4);
  t.equal(parsed.lineOf(''), undefined);
});

t.test('repeats names each item whose key came before, with the first one; duplicates each repeated value once', async (t) => {
  t.same(repeats(['a', 'b', 'a', 'c', 'a', 'b'], (value) => value), [
    { index: 2, first: 0, key: 'a' },
    { index: 4, first: 0, key: 'a' },
    { index: 5, first: 1, key: 'b' },
  ]);
  t.same(repeats([{ name: 'x' }, {}, { name: 'x' }], (item: { name?: string }) => item.name), [{ index: 2, first: 0, key: 'x' }], 'an item without a key is passed over');
  t.same(duplicates(['a', 'b', 'a', 'c', 'a', 'b']), ['a', 'b']);
  t.same(duplicates([101, 102, 101]), [101]);
  t.same(duplicates([]), []);
});

t.test('ProblemList.uniqueNames reports each repeated name at the repeat, naming the first', async (t) => {
  const check = new ProblemList();
  check.uniqueNames([{ name: 'db' }, { name: 'web' }, 'junk', { name: 'db' }], 'services', 'service');
  t.same(check.problems, [{ path: 'services[3].name', message: 'duplicate service name "db" (first at services[0])' }]);
});
