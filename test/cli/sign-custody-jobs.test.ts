/**
 * The custody jobs as operators sign them: `felhom sign` refuses a decommission that does not
 * name the box it ends, or a key-custody job without its operator keys, before anything is
 * published; a well-formed one verifies as the box would.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { felhom } from '../helpers/cli.js';
import { TEST_PASSPHRASE, writeKeyFiles } from '../helpers/keys.js';

const env = { FELHOM_KEY_PASSPHRASE: TEST_PASSPHRASE };

async function workspace(t: Parameters<Parameters<typeof t.test>[1]>[0]): Promise<string> {
  const dir = await writeKeyFiles(['alice']);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sign = (dir: string, file: string, serial: number) => felhom(['sign', file, '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', String(serial), '--type', 'job', '--expires', '2h', '--out', `${file}.json`], { cwd: dir, env });

t.test('a decommission must name the box it ends', async (t) => {
  const dir = await workspace(t);
  await writeFile(join(dir, 'wrong.yaml'), 'action: decommission\nconfirm: hb-0002\n');
  const wrong = await sign(dir, 'wrong.yaml', 1);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /EINVALIDBODY: .*body\.confirm: expected the box id "hb-0001"/);
  await writeFile(join(dir, 'decommission.yaml'), 'action: decommission\nconfirm: hb-0001\nfinalBackup: { storage: offsite }\n');
  const signed = await sign(dir, 'decommission.yaml', 2);
  t.equal(signed.code, 0, signed.stderr);
  await felhom(['trust', 'init', '--public-key', 'alice.pub.asc', '--out', 'trust.json'], { cwd: dir });
  const verified = await felhom(['verify', 'decommission.yaml.json', '--trust', 'trust.json', '--box', 'hb-0001', '--tier', 'host', '--json'], { cwd: dir });
  t.equal(verified.code, 0, verified.stderr);
  t.match(JSON.parse(verified.stdout), { valid: true, type: 'job', action: 'decommission', box: 'hb-0001' });
});

t.test('a key-custody job names a known custody, with operator keys exactly when operator-managed', async (t) => {
  const dir = await workspace(t);
  await writeFile(join(dir, 'managed.yaml'), 'action: key-custody\ncustody: operator-managed\n');
  const refused = await sign(dir, 'managed.yaml', 1);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /body\.operatorKeys: operator-managed custody needs a non-empty array/);
  await writeFile(join(dir, 'customer.yaml'), 'action: key-custody\ncustody: customer-only\n');
  t.equal((await sign(dir, 'customer.yaml', 2)).code, 0);
});
