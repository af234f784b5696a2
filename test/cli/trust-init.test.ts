import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { loadTrustStore } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';
import { testKeys, writeKeyFiles } from '../helpers/keys.js';

t.test('trust init pins the given public keys with a threshold', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = await writeKeyFiles(['alice', 'bob']);
  const out = join(dir, 'trust.json');
  const result = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--public-key', 'bob.pub.asc', '--threshold', '2', '--out', 'trust.json', '--json'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.same(JSON.parse(result.stdout), { trustStore: out, threshold: 2, fingerprints: [alice.fingerprint, bob.fingerprint] });
  const store = await loadTrustStore(out);
  t.equal(store.threshold, 2);
  t.same(store.keys.map((key) => key.fingerprint), [alice.fingerprint, bob.fingerprint]);
});

t.test('trust init prints the fingerprints for a person to compare', async (t) => {
  const [alice] = await testKeys('alice');
  const dir = await writeKeyFiles(['alice']);
  const result = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(result.code, 0);
  t.equal(result.stdout, `trust.json: 1 key, threshold 1\n  ${alice.fingerprint}  alice <alice@operators.example>\n`);
});

t.test('trust init refuses to replace an existing store unless forced', async (t) => {
  const dir = await writeKeyFiles(['alice', 'bob']);
  t.equal((await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--out', 'trust.json'], { cwd: dir })).code, 0);
  const before = await readFile(join(dir, 'trust.json'), 'utf8');
  const again = await felhom(['trust', 'init', '--public-key', 'bob.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(again.code, 1);
  t.match(again.stderr, /EEXIST: trust\.json already exists/);
  t.equal(await readFile(join(dir, 'trust.json'), 'utf8'), before);
  t.equal((await felhom(['trust', 'init', '--public-key', 'bob.pub.asc', '--out', 'trust.json', '--force'], { cwd: dir })).code, 0);
});

t.test('trust init refuses a threshold above the number of distinct keys, a private key and a bad number', async (t) => {
  const dir = await writeKeyFiles(['alice']);
  const duplicate = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--public-key', 'alice.pub.asc', '--threshold', '2', '--out', 'trust.json'], { cwd: dir });
  t.equal(duplicate.code, 1);
  t.match(duplicate.stderr, /EKEY: threshold: expected an integer from 1 to 1/);
  const privateKey = await felhom(['trust', 'init', '--public-key', 'alice.key.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(privateKey.code, 1);
  t.match(privateKey.stderr, /EKEY: .*is a private key/);
  const notANumber = await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--threshold', 'two', '--out', 'trust.json'], { cwd: dir });
  t.equal(notANumber.code, 2);
  const missing = await felhom(['trust', 'init', '--public-key', 'nobody.pub.asc', '--out', 'trust.json'], { cwd: dir });
  t.equal(missing.code, 3);
  t.match(missing.stderr, /EREAD: cannot read public key nobody\.pub\.asc: ENOENT/);
});
