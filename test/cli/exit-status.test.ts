/**
 * The command's one error contract (README, docs/operator-guide.md): each documented exit
 * status, one `felhom: ECODE: message` line on stderr for every failure, and with `--json` a
 * `{ error: { code, message, exitCode } }` document on stdout.
 */
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { felhom, type CliResult } from '../helpers/cli.js';

/** The first stderr line in the contract's form, and nothing like commander's own `error:` lines. */
function assertErrorLine(t: Test, result: CliResult, code: string, message: RegExp): void {
  const first = result.stderr.split('\n')[0]!;
  t.match(first, new RegExp(`^felhom: ${code}: `), 'one line with the code');
  t.match(first, message);
  t.notMatch(result.stderr, /^error: /m, "no commander-style line");
}

function jsonError(result: CliResult): { code: string; message: string; exitCode: number } {
  return (JSON.parse(result.stdout) as { error: { code: string; message: string; exitCode: number } }).error;
}

t.test('exit 0: success prints the result and nothing on stderr', async (t) => {
  const result = await felhom(['catalog', 'list', '--json']);
  t.equal(result.code, 0);
  t.equal(result.stderr, '');
  t.ok(Array.isArray(JSON.parse(result.stdout)));
});

t.test('exit 1: input that is understood and wrong', async (t) => {
  t.test('an invalid spec names its problems under the error line', async (t) => {
    const dir = t.testdir({ 'bad.yaml': 'apiVersion: felhom.dev/v1alpha1\nkind: BoxSpec\n' });
    const result = await felhom(['plan', join(dir, 'bad.yaml')]);
    t.equal(result.code, 1);
    assertErrorLine(t, result, 'ESPEC', /bad\.yaml: \d+ problems? in the box spec$/);
    t.match(result.stderr, /^ {2}\S/m, 'the problems follow, indented');
  });
  t.test('with --json the failure is a JSON error object on stdout', async (t) => {
    const result = await felhom(['catalog', 'show', 'no-such-app', '--json']);
    t.equal(result.code, 1);
    const error = jsonError(result);
    t.equal(error.exitCode, 1);
    t.match(result.stderr, new RegExp(`^felhom: ${error.code}: `));
    t.match(error.message, 'no-such-app');
  });
});

t.test('exit 2: the command line is wrong, also when commander finds it', async (t) => {
  const cases: [string, string[], RegExp][] = [
    ['a missing required option', ['sign', 'spec.yaml'], /required option '--key <private\.asc>' not specified/],
    ['an unknown option', ['validate', 'spec.yaml', '--bogus'], /unknown option '--bogus'/],
    ['an unknown command', ['bogus'], /unknown command 'bogus'/],
    ['an unknown command in a group', ['keys', 'bogus'], /unknown command 'bogus'/],
    ['a missing argument', ['validate'], /missing required argument 'spec'/],
    ['a bad option value', ['plan', 'spec.yaml', '--tier', 'cloud'], /--tier/],
  ];
  for (const [what, args, message] of cases) {
    t.test(what, async (t) => {
      const result = await felhom(args);
      t.equal(result.code, 2);
      assertErrorLine(t, result, 'EUSAGE', message);
      t.equal(result.stdout, '');
    });
  }
  t.test('a group without its command prints the group help and the error line', async (t) => {
    const result = await felhom(['keys']);
    t.equal(result.code, 2);
    t.match(result.stderr, /^Usage: felhom keys/m);
    t.match(result.stderr, /^felhom: EUSAGE: /m);
  });
  t.test('with --json commander errors are JSON too', async (t) => {
    const result = await felhom(['sign', 'spec.yaml', '--json']);
    t.equal(result.code, 2);
    t.same(jsonError(result), { code: 'EUSAGE', message: "required option '--key <private.asc>' not specified", exitCode: 2 });
  });
});

t.test('exit 3: a failure outside the input', async (t) => {
  t.test('a missing spec file', async (t) => {
    const result = await felhom(['validate', '/nonexistent/spec.yaml']);
    t.equal(result.code, 3);
    assertErrorLine(t, result, 'ESPEC', /nonexistent\/spec\.yaml/);
    t.match(result.stderr, /cannot read: ENOENT/);
  });
  t.test('a missing trust store, with --json', async (t) => {
    const dir = t.testdir({ 'e.json': '{}' });
    const result = await felhom(['verify', join(dir, 'e.json'), '--trust', '/nonexistent/trust.json', '--box', 'hb-1', '--tier', 'host', '--json']);
    t.equal(result.code, 3);
    t.same(jsonError(result), { code: 'ETRUST', message: 'cannot read trust store /nonexistent/trust.json: ENOENT', exitCode: 3 });
    assertErrorLine(t, result, 'ETRUST', /ENOENT$/);
  });
  t.test('a missing key file', async (t) => {
    const result = await felhom(['trust', 'init', '--public-key', '/nonexistent/k.asc', '--out', join(t.testdir(), 'trust.json')]);
    t.equal(result.code, 3);
    assertErrorLine(t, result, 'EREAD', /cannot read public key \/nonexistent\/k\.asc: ENOENT/);
  });
  t.test('a port in use', async (t) => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as { port: number }).port;
    const result = await felhom(['hub', 'serve', '--data', t.testdir(), '--port', String(port)]);
    t.equal(result.code, 3);
    assertErrorLine(t, result, 'EADDRINUSE', new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`));
  });
  t.test('a hub URL that is not a URL', async (t) => {
    const result = await felhom(['hub', 'reports', '--hub', 'hub.example', '--json'], { env: { FELHOM_HUB_OPERATOR_TOKEN: 'token' } });
    t.equal(result.code, 3);
    t.equal(jsonError(result).code, 'EHUB_URL');
    assertErrorLine(t, result, 'EHUB_URL', /not a valid URL/);
  });
  t.test('a hub that does not answer', async (t) => {
    const file = join(t.testdir(), 'e.json');
    writeFileSync(file, '{}');
    const result = await felhom(['publish', file, '--hub', 'http://127.0.0.1:1'], { env: { FELHOM_HUB_OPERATOR_TOKEN: 'token' } });
    t.equal(result.code, 3);
    assertErrorLine(t, result, 'EHUB_UNAVAILABLE', /127\.0\.0\.1:1/);
  });
});

t.test('an unexpected error is EINTERNAL, exit 3, and points at --debug', async (t) => {
  const { describeFailure } = await import('../../cli/errors.js');
  t.same(describeFailure(new TypeError('x is undefined')), { code: 'EINTERNAL', message: 'x is undefined', exitCode: 3, details: [] });
  t.same(describeFailure('a string'), { code: 'EINTERNAL', message: 'a string', exitCode: 3, details: [] });
  const system = Object.assign(new Error('open /x: EACCES'), { code: 'EACCES', syscall: 'open' });
  t.equal(describeFailure(system).exitCode, 3, 'system errors are failures outside the input');
});
