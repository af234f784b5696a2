import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { createTrustStore, formatEnvelope, signEnvelope, writeTrustStore, type EnvelopeContent } from '../../runner/envelope/index.js';
import { felhom } from '../helpers/cli.js';
import { gnupgHome } from '../helpers/gnupg.js';
import { testKey, testKeys, writeKeyFiles } from '../helpers/keys.js';

const homeBoxSpec = new URL('../../examples/home-box.yaml', import.meta.url);

/** A directory with alice's trust store and one envelope, `env.json`, signed by `signer`. */
async function workspace(content: Partial<EnvelopeContent> = {}, signer = 'alice'): Promise<string> {
  const [alice, key] = await testKeys('alice', signer);
  const dir = await writeKeyFiles(['alice']);
  await writeTrustStore(join(dir, 'trust.json'), await createTrustStore([alice.publicArmored]));
  const envelope = await signEnvelope({ type: 'job', box: 'hb-0001', tier: 'host', serial: 5, body: { action: 'refresh' }, ...content }, key.privateKey);
  await writeFile(join(dir, 'env.json'), formatEnvelope(envelope));
  return dir;
}

const verifyArgs = ['verify', 'env.json', '--trust', 'trust.json', '--box', 'hb-0001', '--tier', 'host'];

t.test('verify prints a summary and exits 0 for a valid envelope', async (t) => {
  const alice = await testKey('alice');
  const dir = await workspace();
  const result = await felhom([...verifyArgs, '--last-serial', '4'], { cwd: dir });
  t.equal(result.code, 0, result.stderr);
  t.match(result.stdout, new RegExp(`^env\\.json: valid refresh job for hb-0001/host serial 5\\n  signed by ${alice.fingerprint} \\(threshold 1\\)\\n`));
});

t.test('verify --json prints the verified envelope', async (t) => {
  const alice = await testKey('alice');
  const dir = await workspace();
  const result = await felhom([...verifyArgs, '--json'], { cwd: dir });
  t.equal(result.code, 0);
  t.match(JSON.parse(result.stdout), { valid: true, type: 'job', action: 'refresh', box: 'hb-0001', tier: 'host', serial: 5, signers: [alice.fingerprint], threshold: 1, digest: /^[0-9a-f]{64}$/ });
});

t.test('verify refuses with exit 1 and the reason code', async (t) => {
  const cases: [string, Partial<EnvelopeContent>, string[], string, RegExp][] = [
    ['another box', { box: 'hb-0002' }, [], 'wrong-box', /EWRONGBOX/],
    ['another tier', { tier: 'edge' }, [], 'wrong-tier', /EWRONGTIER/],
    ['a replay', {}, ['--last-serial', '5'], 'replay', /EREPLAY/],
    ['a rollback', {}, ['--last-serial', '6'], 'rollback', /EROLLBACK/],
    ['the wrong type', {}, ['--type', 'spec'], 'wrong-type', /EWRONGTYPE/],
    ['an expired envelope', { issuedAt: new Date('2020-01-01T00:00:00Z'), expiresAt: new Date('2020-01-02T00:00:00Z') }, [], 'expired', /EEXPIRED/],
    ['an envelope from the future', { issuedAt: new Date(Date.now() + 3600_000), expiresAt: new Date(Date.now() + 7200_000) }, [], 'not-yet-valid', /ENOTYETVALID/],
  ];
  for (const [what, content, extra, reason, code] of cases) {
    const dir = await workspace(content);
    const human = await felhom([...verifyArgs, ...extra], { cwd: dir });
    t.equal(human.code, 1, what);
    t.match(human.stderr, code, what);
    const json = await felhom([...verifyArgs, ...extra, '--json'], { cwd: dir });
    t.equal(json.code, 1, what);
    t.match(JSON.parse(json.stdout), { valid: false, reason }, what);
  }
});

t.test('verify refuses an envelope signed by an unknown key', async (t) => {
  const dir = await workspace({}, 'mallory');
  const result = await felhom(verifyArgs, { cwd: dir });
  t.equal(result.code, 1);
  t.match(result.stderr, /felhom: EUNKNOWNKEY: no signature is by a trusted key/);
});

t.test('verify refuses a tampered envelope', async (t) => {
  const dir = await workspace();
  const text = await readFile(join(dir, 'env.json'), 'utf8');
  await writeFile(join(dir, 'env.json'), text.replace('refresh', 'destroy'));
  const result = await felhom([...verifyArgs, '--json'], { cwd: dir });
  t.equal(result.code, 1);
  t.match(JSON.parse(result.stdout), { valid: false, reason: 'tampered', code: 'ETAMPERED' });
});

t.test('verify checks spec bodies with the box spec validator', async (t) => {
  const spec = parse(await readFile(homeBoxSpec, 'utf8')) as { spec: { domain: unknown } };
  const valid = await workspace({ type: 'spec', body: spec as unknown as Record<string, unknown> });
  t.equal((await felhom(verifyArgs, { cwd: valid })).code, 0);
  spec.spec.domain = 42;
  const invalid = await workspace({ type: 'spec', body: spec as unknown as Record<string, unknown> });
  const result = await felhom([...verifyArgs, '--json'], { cwd: invalid });
  t.equal(result.code, 1);
  const printed = JSON.parse(result.stdout) as { reason: string; details: string[] };
  t.equal(printed.reason, 'invalid-body');
  t.match(printed.details.join('\n'), /spec\.domain/);
});

t.test('verify accepts a signature made with gpg --detach-sign --armor by a trusted key', async (t) => {
  const gnupg = await gnupgHome();
  t.teardown(() => gnupg.close());
  await gnupg.gpg('--passphrase', '', '--quick-gen-key', 'Hand Signer <hand@operators.example>', 'ed25519', 'sign', 'never');
  const { stdout: publicKey } = await gnupg.gpg('--armor', '--export', 'hand@operators.example');
  const dir = await workspace();
  await writeTrustStore(join(dir, 'trust.json'), await createTrustStore([publicKey]));
  const envelope = JSON.parse(await readFile(join(dir, 'env.json'), 'utf8')) as { payload: string; signatures: string[] };
  const payloadPath = await gnupg.file('payload.json', envelope.payload);
  await gnupg.gpg('--detach-sign', '--armor', '--output', `${payloadPath}.asc`, payloadPath);
  envelope.signatures = [await readFile(`${payloadPath}.asc`, 'utf8')];
  await writeFile(join(dir, 'env.json'), JSON.stringify(envelope));
  const result = await felhom([...verifyArgs, '--json'], { cwd: dir });
  t.equal(result.code, 0, result.stdout + result.stderr);
  t.match(JSON.parse(result.stdout), { valid: true, signers: [/^[0-9A-F]{40}$/] });
});

t.test('verify reports an unreadable envelope or trust store as a failure outside the input', async (t) => {
  const dir = await workspace();
  const noEnvelope = await felhom(['verify', 'missing.json', '--trust', 'trust.json', '--box', 'hb-0001', '--tier', 'host'], { cwd: dir });
  t.equal(noEnvelope.code, 3);
  t.match(noEnvelope.stderr, /EREAD: cannot read envelope missing\.json: ENOENT/);
  const noTrust = await felhom(['verify', 'env.json', '--trust', 'none.json', '--box', 'hb-0001', '--tier', 'host'], { cwd: dir });
  t.equal(noTrust.code, 3);
  t.match(noTrust.stderr, /ETRUST: cannot read trust store/);
  const badTier = await felhom(['verify', 'env.json', '--trust', 'trust.json', '--box', 'hb-0001', '--tier', 'cloud'], { cwd: dir });
  t.equal(badTier.code, 2);
});
