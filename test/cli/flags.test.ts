/** One name for one thing: the old spellings keep working for one release, with a deprecation line. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { Command } from 'commander';
import { renamedOption } from '../../cli/flags.js';
import { felhom } from '../helpers/cli.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';
import { writeKeyFiles } from '../helpers/keys.js';

const deprecation = (old: string, replacement: string) => new RegExp(`^felhom: warning: ${old} is deprecated and goes away in 0\\.2\\.0; use ${replacement}$`, 'm');

t.test('--token still works as --operator-token, with one deprecation line', async (t) => {
  const { hub, enroll } = await startTestHub(t);
  await enroll('box-1');
  const result = await felhom(['hub', 'reports', '--hub', hub.url, '--token', OPERATOR_TOKEN], { env: { FELHOM_HUB_OPERATOR_TOKEN: '' } });
  t.equal(result.code, 0, result.stderr);
  t.equal(result.stdout, 'no reports\n');
  t.match(result.stderr, deprecation('--token', '--operator-token'));
  t.equal(result.stderr.split('\n').filter(Boolean).length, 1);
});

t.test('trust init --key (repeated) still collects public keys as --public-key', async (t) => {
  const dir = await writeKeyFiles(['alice', 'bob']);
  const result = await felhom(['trust', 'init', '--key', 'alice.pub.asc', '--key', 'bob.pub.asc', '--threshold', '2', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, /2 keys, threshold 2/);
  t.match(result.stderr, deprecation('--key', '--public-key'));
  t.equal(result.stderr.match(/warning/g)?.length, 1, 'warned once for two uses');
});

t.test('keys generate --out and catalog import --out still take the folder', async (t) => {
  const dir = t.testdir();
  const keys = await felhom(['keys', 'generate', '--name', 'x', '--email', 'x@operators.example', '--out', dir], { env: { FELHOM_KEY_PASSPHRASE: 'a passphrase' } });
  t.equal(keys.code, 0, keys.stderr);
  t.ok(existsSync(join(dir, 'x.pub.asc')));
  t.match(keys.stderr, deprecation('--out', '--out-dir'));
  const compose = join(t.testdir({ 'compose.yml': 'services:\n  web:\n    image: nginx:1.27\n' }), 'compose.yml');
  const drafted = await felhom(['catalog', 'import', compose, '--name', 'web', '--out', dir]);
  t.equal(drafted.code, 0, drafted.stderr);
  t.ok(existsSync(join(dir, 'web', '.felhom.yml')));
  t.match(drafted.stderr, deprecation('--out', '--out-dir'));
});

t.test('the new spellings print no warning, and --help shows only them', async (t) => {
  const result = await felhom(['trust', 'init', '--help']);
  t.match(result.stdout, /--public-key <pub\.asc>/);
  t.notMatch(result.stdout, /--key/);
});

t.test('renamedOption refuses to alias an option the command does not have', async (t) => {
  t.throws(() => renamedOption(new Command('x'), '--old <v>', '--new'), /has no option --new/);
});
