import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createTrustStore, formatEnvelope, signEnvelope, verifyEnvelope, writeTrustStore, type EnvelopeDocument, type EnvelopeHeader } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';
import { gnupgHome } from '../helpers/gnupg.js';
import { TEST_PASSPHRASE, testKeys, writeKeyFiles } from '../helpers/keys.js';

const env = { FELHOM_KEY_PASSPHRASE: TEST_PASSPHRASE };
const homeBoxSpec = new URL('../../examples/home-box.yaml', import.meta.url);

async function workspace(names: string[] = ['alice', 'bob']): Promise<string> {
  const dir = await writeKeyFiles(names);
  await writeFile(join(dir, 'apply.yaml'), 'action: apply\nreason: monthly update\n');
  return dir;
}

function header(text: string): EnvelopeHeader {
  return JSON.parse((JSON.parse(text) as EnvelopeDocument).payload) as EnvelopeHeader;
}

t.test('sign turns a YAML job into an envelope for one box and tier', async (t) => {
  const [alice] = await testKeys('alice');
  const dir = await workspace();
  const result = await felhom(['sign', 'apply.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '7', '--type', 'job', '--expires', '2h', '--out', 'apply.env.json', '--json'], { cwd: dir, env });
  t.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(result.stdout) as { envelope: string; serial: number; signatures: number; digest: string };
  t.match(summary, { envelope: 'apply.env.json', type: 'job', box: 'hb-0001', tier: 'host', serial: 7, signatures: 1 });
  const text = await readFile(join(dir, 'apply.env.json'), 'utf8');
  const signed = header(text);
  t.same(signed.body, { action: 'apply', reason: 'monthly update' });
  const validity = Date.parse(signed.expiresAt) - Date.parse(signed.issuedAt);
  t.equal(validity, 2 * 60 * 60 * 1000, '--expires 2h');
  const verified = await verifyEnvelope(text, { trust: await createTrustStore([alice.publicArmored]), box: 'hb-0001', tier: 'host' });
  t.equal(verified.digest, summary.digest);
});

t.test('sign without --out prints the envelope itself', async (t) => {
  const dir = await workspace();
  const result = await felhom(['sign', 'apply.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'guest', '--serial', '1', '--type', 'job'], { cwd: dir, env });
  t.equal(result.code, 0, result.stderr);
  t.equal(header(result.stdout).tier, 'guest');
});

t.test('sign with two keys, or --add, makes an envelope that meets a threshold of 2', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const trust = await createTrustStore([alice.publicArmored, bob.publicArmored], 2);
  const dir = await workspace();
  const both = await felhom(['sign', 'apply.yaml', '--key', 'alice.key.asc', '--key', 'bob.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '2', '--type', 'job', '--out', 'both.json'], { cwd: dir, env });
  t.equal(both.code, 0, both.stderr);
  t.same((await verifyEnvelope(await readFile(join(dir, 'both.json')), { trust, box: 'hb-0001', tier: 'host' })).signers, [alice.fingerprint, bob.fingerprint].sort());

  t.equal((await felhom(['sign', 'apply.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '3', '--type', 'job', '--out', 'later.json'], { cwd: dir, env })).code, 0);
  const before = await readFile(join(dir, 'later.json'), 'utf8');
  const added = await felhom(['sign', '--add', 'later.json', '--key', 'bob.key.asc'], { cwd: dir, env });
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /later\.json: job for hb-0001\/host serial 3, 2 signatures/);
  const after = await readFile(join(dir, 'later.json'), 'utf8');
  t.equal((JSON.parse(after) as EnvelopeDocument).payload, (JSON.parse(before) as EnvelopeDocument).payload, 'the payload is unchanged');
  t.equal((await verifyEnvelope(after, { trust, box: 'hb-0001', tier: 'host' })).signers.length, 2);
});

t.test('sign signs a valid box spec and refuses an invalid one naming the field', async (t) => {
  const dir = await workspace();
  await copyFile(homeBoxSpec, join(dir, 'home-box.yaml'));
  const ok = await felhom(['sign', 'home-box.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '1', '--out', 'spec.json'], { cwd: dir, env });
  t.equal(ok.code, 0, ok.stderr);
  t.equal(header(await readFile(join(dir, 'spec.json'), 'utf8')).type, 'spec');

  await writeFile(join(dir, 'broken.yaml'), (await readFile(homeBoxSpec, 'utf8')).replace('domain: kovacs-otthon.hu', 'domain: 42'));
  const broken = await felhom(['sign', 'broken.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '1'], { cwd: dir, env });
  t.equal(broken.code, 1);
  t.match(broken.stderr, /EINVALIDBODY: broken\.yaml: invalid spec body: spec\.domain/);

  const otherBox = await felhom(['sign', 'home-box.yaml', '--key', 'alice.key.asc', '--box', 'hb-0002', '--tier', 'host', '--serial', '1'], { cwd: dir, env });
  t.equal(otherBox.code, 1);
  t.match(otherBox.stderr, /EINVALIDBODY: .*metadata\.box/);
});

t.test('sign resolves the key files a rotate-keys job names', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = await workspace();
  await writeFile(join(dir, 'rotate.yaml'), 'action: rotate-keys\nthreshold: 1\nkeys:\n  - bob.pub.asc\n');
  const result = await felhom(['sign', 'rotate.yaml', '--key', 'alice.key.asc', '--key', 'bob.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '4', '--type', 'job', '--out', 'rotate.json'], { cwd: dir, env });
  t.equal(result.code, 0, result.stderr);
  const text = await readFile(join(dir, 'rotate.json'), 'utf8');
  t.same((header(text).body as { keys: string[] }).keys, [bob.publicArmored]);
  const verified = await verifyEnvelope(text, { trust: await createTrustStore([alice.publicArmored]), box: 'hb-0001', tier: 'host' });
  t.same(verified.signers, [alice.fingerprint]);
});

t.test('sign refuses bad options as usage errors', async (t) => {
  const dir = await workspace();
  const base = ['sign', 'apply.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--type', 'job'];
  const cases: [string[], RegExp][] = [
    [[...base, '--tier', 'cloud', '--serial', '1'], /--tier: expected one of edge, host, guest/],
    [[...base, '--tier', 'host', '--serial', '0'], /--serial: expected a positive integer/],
    [[...base, '--tier', 'host', '--serial', '1', '--expires', 'soon'], /--expires: expected a duration/],
    [[...base, '--tier', 'host', '--serial', '1', '--type', 'memo'], /--type: expected spec or job/],
    [['sign', '--key', 'alice.key.asc', '--box', 'b', '--tier', 'host', '--serial', '1'], /missing <file>/],
  ];
  for (const [args, message] of cases) {
    const result = await felhom(args, { cwd: dir, env });
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, message);
  }
});

t.test('sign with a wrong passphrase fails naming the key, never the passphrase', async (t) => {
  const dir = await workspace();
  const result = await felhom(['sign', 'apply.yaml', '--key', 'alice.key.asc', '--box', 'b', '--tier', 'host', '--serial', '1', '--type', 'job'], { cwd: dir, env: { FELHOM_KEY_PASSPHRASE: 'wrong horse' } });
  t.equal(result.code, 1);
  t.match(result.stderr, /EKEY: alice\.key\.asc: cannot unlock [0-9A-F]{40}/);
  t.notMatch(result.stderr, /wrong horse/);
});

t.test('sign refuses a job with an unknown action', async (t) => {
  const dir = await workspace();
  await writeFile(join(dir, 'wipe.yaml'), 'action: wipe\n');
  const result = await felhom(['sign', 'wipe.yaml', '--key', 'alice.key.asc', '--box', 'b', '--tier', 'host', '--serial', '1', '--type', 'job'], { cwd: dir, env });
  t.equal(result.code, 1);
  t.match(result.stderr, /EINVALIDBODY: .*body\.action: expected one of apply/);
});

t.test('every signature sign makes verifies with gpgv', async (t) => {
  const [alice, bob] = await testKeys('alice', 'bob');
  const dir = await workspace();
  const result = await felhom(['sign', 'apply.yaml', '--key', 'alice.key.asc', '--key', 'bob.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '2', '--type', 'job'], { cwd: dir, env });
  const document = JSON.parse(result.stdout) as EnvelopeDocument;
  const gnupg = await gnupgHome();
  t.teardown(() => gnupg.close());
  const data = await gnupg.file('payload', document.payload);
  for (const [index, signature] of document.signatures.entries()) {
    const verdict = await gnupg.gpgv([alice.publicArmored, bob.publicArmored], await gnupg.file(`sig${index}.asc`, signature), data);
    t.equal(verdict.exitCode, 0);
    t.match(verdict.status, /VALIDSIG/);
  }
});

t.test('a trust store file is what verifyEnvelope reads after sign', async (t) => {
  const [alice] = await testKeys('alice');
  const dir = await workspace();
  await writeTrustStore(join(dir, 'trust.json'), await createTrustStore([alice.publicArmored]));
  const made = formatEnvelope(await signEnvelope({ type: 'job', box: 'b', tier: 'edge', serial: 1, body: { action: 'preview' } }, alice.privateKey));
  await writeFile(join(dir, 'env.json'), made);
  const result = await felhom(['verify', 'env.json', '--trust', 'trust.json', '--box', 'b', '--tier', 'edge'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
});

t.test('sign refuses a spec that fails a mandatory policy of its tier, naming the rule, and signs nothing', async (t) => {
  const dir = await workspace();
  const spec = (await readFile(homeBoxSpec, 'utf8')).replace(/^ {4}advisory: \[images-pinned\]$/m, '    advisory: []');
  await writeFile(join(dir, 'spec.yaml'), spec);
  const result = await felhom(['sign', 'spec.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'guest', '--serial', '3', '--out', 'spec.env.json'], { cwd: dir, env });
  t.equal(result.code, 1, 'exit 1: the input is wrong');
  t.match(result.stderr, /^felhom: EPOLICY_VIOLATION: spec\.yaml: refusing to sign the guest tier .*mandatory policy images-pinned failed: /m);
  t.match(result.stderr, /^ {2}images-pinned: .*nextcloud/m, 'each violation on its own line');
  t.equal(result.stdout, '');
  await t.rejects(readFile(join(dir, 'spec.env.json')), { code: 'ENOENT' }, 'no envelope was written');

  // the same spec's host tier has no mandatory violation: it signs
  const host = await felhom(['sign', 'spec.yaml', '--key', 'alice.key.asc', '--box', 'hb-0001', '--tier', 'host', '--serial', '3', '--out', 'host.env.json'], { cwd: dir, env });
  t.equal(host.code, 0, host.stderr);
});
