/** `felhom sign` for several files, boxes and tiers at once, `--serial next`, `--renew`, and one passphrase per key. */
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import * as openpgp from 'openpgp';
import { createTrustStore, verifyEnvelope, type EnvelopeDocument, type EnvelopeHeader } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';
import { makeEnvelope, OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';
import { TEST_PASSPHRASE, testKeys, writeKeyFiles } from '../helpers/keys.js';

const env = { FELHOM_KEY_PASSPHRASE: TEST_PASSPHRASE, FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN };
const homeBoxSpec = new URL('../../examples/home-box.yaml', import.meta.url);
const DAY = 24 * 60 * 60 * 1000;

function header(text: string): EnvelopeHeader {
  return JSON.parse((JSON.parse(text) as EnvelopeDocument).payload) as EnvelopeHeader;
}

async function workspace(): Promise<string> {
  const dir = await writeKeyFiles(['alice', 'bob']);
  await writeFile(join(dir, 'refresh.yaml'), 'action: refresh\n');
  await copyFile(homeBoxSpec, join(dir, 'home-box.yaml'));
  return dir;
}

t.test('--serial next asks the hub for the last serial of each box and tier', async (t) => {
  const { hub, enroll, operator } = await startTestHub(t);
  await enroll('hb-0001');
  await enroll('hb-0002');
  await operator.publish(makeEnvelope({ box: 'hb-0001', tier: 'host', serial: 41 }));
  const dir = await workspace();
  const result = await felhom(
    ['sign', 'refresh.yaml', '--type', 'job', '--key', 'alice.key.asc', '--box', 'hb-0001,hb-0002', '--tier', 'host', '--tier', 'guest', '--serial', 'next', '--hub', hub.url, '--out-dir', 'out', '--json'],
    { cwd: dir, env },
  );
  t.equal(result.code, 0, result.stderr);
  const { envelopes } = JSON.parse(result.stdout) as { envelopes: { envelope: string; box: string; tier: string; serial: number }[] };
  t.same(
    envelopes.map((e) => [e.envelope, e.serial]),
    [
      ['out/hb-0001.host.42.json', 42],
      ['out/hb-0001.guest.1.json', 1],
      ['out/hb-0002.host.1.json', 1],
      ['out/hb-0002.guest.1.json', 1],
    ],
  );
  t.same((await readdir(join(dir, 'out'))).sort(), ['hb-0001.guest.1.json', 'hb-0001.host.42.json', 'hb-0002.guest.1.json', 'hb-0002.host.1.json']);

  t.test('and publish sends them all, in order', async (t) => {
    const files = envelopes.map((e) => e.envelope);
    const published = await felhom(['publish', ...files, '--hub', hub.url], { cwd: dir, env });
    t.equal(published.code, 0, published.stderr);
    t.equal(published.stdout.trim().split('\n').length, 4);
    t.match(published.stdout, /^published job serial 42 for hb-0001\/host/m);
    t.equal(await operator.lastSerial('hb-0001', 'host'), 42);
    const next = await felhom(['sign', 'refresh.yaml', '--type', 'job', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', 'next', '--hub', hub.url, '--out', 'next.json'], { cwd: dir, env });
    t.match(next.stdout, /^next\.json: job for hb-0001\/host serial 43, /);
    const again = await felhom(['publish', 'next.json', files[0]!, '--hub', hub.url], { cwd: dir, env });
    t.equal(again.code, 1, 'the first refusal stops the rest');
    t.match(again.stderr, /^felhom: ESERIAL_NOT_INCREASING: out\/hb-0001\.host\.42\.json: hub answered 409.* \(published: next\.json; not sent: out\/hb-0001\.host\.42\.json\)$/m);
  });
});

t.test('--serial next for a box the hub does not know is refused, and nothing is written', async (t) => {
  const { hub } = await startTestHub(t);
  const dir = await workspace();
  const result = await felhom(['sign', 'refresh.yaml', '--type', 'job', '--key', 'alice.key.asc', '--box', 'hb-0009', '--tier', 'host', '--serial', 'next', '--hub', hub.url, '--out', 'x.json'], { cwd: dir, env });
  t.equal(result.code, 1);
  t.match(result.stderr, /^felhom: EBOX_UNKNOWN: /m);
  t.notOk((await readdir(dir)).includes('x.json'));
});

t.test('a spec names its own box, and several tiers need --out-dir', async (t) => {
  const dir = await workspace();
  const many = await felhom(['sign', 'home-box.yaml', '--key', 'alice.key.asc', '--tier', 'host,guest', '--serial', '3'], { cwd: dir, env });
  t.equal(many.code, 2);
  t.match(many.stderr, /^felhom: EUSAGE: 2 envelopes need --out-dir <dir> \(one file each: hb-0001\.host\.3\.json, \.\.\.\)$/m);
  const ok = await felhom(['sign', 'home-box.yaml', '--key', 'alice.key.asc', '--tier', 'host,guest', '--serial', '3', '--out-dir', '.'], { cwd: dir, env });
  t.equal(ok.code, 0, ok.stderr);
  const spec = header(await readFile(join(dir, 'hb-0001.guest.3.json'), 'utf8'));
  t.match(spec, { type: 'spec', box: 'hb-0001', tier: 'guest', serial: 3 });
  t.equal(Date.parse(spec.expiresAt) - Date.parse(spec.issuedAt), 30 * DAY, 'a spec is valid 30 days by default');
});

t.test('one numeric serial cannot serve two envelopes for the same box and tier', async (t) => {
  const dir = await workspace();
  await writeFile(join(dir, 'preview.yaml'), 'action: preview\n');
  const result = await felhom(['sign', 'refresh.yaml', 'preview.yaml', '--type', 'job', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '5', '--out-dir', 'o'], { cwd: dir, env });
  t.equal(result.code, 2);
  t.match(result.stderr, /--serial 5: two envelopes for hb-0001\/host cannot share a serial; use --serial next/);
  const job = await felhom(['sign', 'refresh.yaml', '--type', 'job', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '5', '--out', 'j.json'], { cwd: dir, env });
  const signed = header(await readFile(join(dir, 'j.json'), 'utf8'));
  t.equal(job.code, 0);
  t.equal(Date.parse(signed.expiresAt) - Date.parse(signed.issuedAt), 7 * DAY, 'a job is valid 7 days by default');
});

t.test('--renew signs the same content again with a new serial and validity', async (t) => {
  const [alice] = await testKeys('alice');
  const dir = await workspace();
  t.equal((await felhom(['sign', 'home-box.yaml', '--key', 'alice.key.asc', '--tier', 'host', '--serial', '7', '--expires', '1h', '--out', 'old.json'], { cwd: dir, env })).code, 0);
  const renewed = await felhom(['sign', '--renew', 'old.json', '--key', 'alice.key.asc', '--serial', '8', '--out', 'new.json'], { cwd: dir, env });
  t.equal(renewed.code, 0, renewed.stderr);
  t.match(renewed.stdout, /^new\.json: spec for hb-0001\/host serial 8, 1 signature, expires /);
  const before = header(await readFile(join(dir, 'old.json'), 'utf8'));
  const after = header(await readFile(join(dir, 'new.json'), 'utf8'));
  t.same(after.body, before.body);
  t.equal(Date.parse(after.expiresAt) - Date.parse(after.issuedAt), 30 * DAY);
  const verified = await verifyEnvelope(await readFile(join(dir, 'new.json')), { trust: await createTrustStore([alice.publicArmored]), box: 'hb-0001', tier: 'host', lastSerial: 7 });
  t.equal(verified.header.serial, 8);
  const both = await felhom(['sign', 'home-box.yaml', '--renew', 'old.json', '--key', 'alice.key.asc', '--serial', '9'], { cwd: dir, env });
  t.equal(both.code, 2);
  const otherTier = await felhom(['sign', '--renew', 'old.json', '--key', 'alice.key.asc', '--serial', '9', '--tier', 'guest'], { cwd: dir, env });
  t.equal(otherTier.code, 2);
  t.match(otherTier.stderr, /--renew keeps the envelope's box and tier/);
  const noSerial = await felhom(['sign', '--renew', 'old.json', '--key', 'alice.key.asc'], { cwd: dir, env });
  t.equal(noSerial.code, 2);
  t.match(noSerial.stderr, /--serial is required/);
});

t.test('two keys with different passphrases sign unattended, each from its own variable', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = await workspace();
  // bob's key under a passphrase of its own
  const bobKey = await openpgp.decryptKey({ privateKey: await openpgp.readPrivateKey({ armoredKey: bob.privateArmored }), passphrase: TEST_PASSPHRASE });
  const reprotected = await openpgp.encryptKey({ privateKey: bobKey, passphrase: 'bob has another passphrase' });
  await writeFile(join(dir, 'bob.key.asc'), reprotected.armor(), { mode: 0o600 });
  const bobKeyId = bob.fingerprint.slice(-16);
  const args = ['sign', 'refresh.yaml', '--type', 'job', '--key', 'alice.key.asc', '--key', 'bob.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '1', '--out', 'both.json'];
  const wrong = await felhom(args, { cwd: dir, env });
  t.equal(wrong.code, 1, 'one passphrase does not open both');
  t.match(wrong.stderr, /^felhom: EKEY: bob\.key\.asc: cannot unlock/m);
  const result = await felhom(args, { cwd: dir, env: { ...env, [`FELHOM_KEY_PASSPHRASE_${bobKeyId}`]: 'bob has another passphrase' } });
  t.equal(result.code, 0, result.stderr);
  const trust = await createTrustStore([alice.publicArmored, bob.publicArmored], 2);
  t.equal((await verifyEnvelope(await readFile(join(dir, 'both.json')), { trust, box: 'hb-0001', tier: 'host' })).signers.length, 2);
  const none = await felhom(args, { cwd: dir, env: { FELHOM_KEY_PASSPHRASE: '' } });
  t.equal(none.code, 2);
  t.match(none.stderr, new RegExp(`set FELHOM_KEY_PASSPHRASE_${alice.fingerprint.slice(-16)} or FELHOM_KEY_PASSPHRASE or run on a terminal`));
});
