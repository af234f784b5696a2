/**
 * The `felhom custody` commands end to end, in-process against a real hub: create with the recovery
 * sheet, the sheet again, custody changes, disaster recovery on a replacement box, and unwrapping
 * a blob with the code or an operator key on another machine. Real PBS costs (scrypt 2^16, 2^17).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { generateKey } from '../../runner/envelope/keys.js';
import { openKeyfile } from '../../runner/custody/pbs-keyfile.js';
import { newRecoveryCode } from '../../runner/custody/recovery-code.js';
import { felhom } from '../helpers/cli.js';
import { OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

/** A new empty directory per call (t.testdir() is one directory per test, recreated on each call). */
async function fresh(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-custody-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function enrolledState(t: Test, hub: Awaited<ReturnType<typeof startTestHub>>, box: string, rotate = false): Promise<string> {
  const state = (await fresh(t));
  const { apiKey } = rotate ? await hub.operator.rotateBoxKey(box) : await hub.operator.enrollBox(box);
  await mkdir(join(state, 'keys'), { recursive: true, mode: 0o700 });
  await writeFile(join(state, 'keys', 'hub-api-key'), apiKey, { mode: 0o600 });
  return state;
}

const codeOf = (sheet: string) => /^ {4}([0-9A-Z]{4}(?:-[0-9A-Z]{4}){8})$/m.exec(sheet)![1]!;

t.test('custody create prints the sheet once; recovery-sheet reprints it for the right code only; recover works on a replacement box', async (t) => {
  const hub = await startTestHub(t);
  const state = await enrolledState(t, hub, 'home-1');
  const created = await felhom(['custody', 'create', '--state', state, '--box', 'home-1', '--hub', hub.hub.url, '--storage-secret', 'pbs-key', '--pbs-server', 'pbs.example', '--pbs-datastore', 'offsite', '--pbs-namespace', 'customers/c-1']);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /FELHOM RECOVERY SHEET — box home-1/);
  t.match(created.stdout, /Key custody: zero-knowledge-escrow/);
  t.match(created.stdout, /server pbs\.example, datastore offsite, namespace customers\/c-1/);
  const code = codeOf(created.stdout);
  const keyfile = await readFile(join(state, 'keys', 'pbs-encryption-key.json'), 'utf8');
  const { fingerprint } = await openKeyfile(keyfile, code);
  t.match(created.stdout, fingerprint);

  const again = await felhom(['custody', 'recovery-sheet', '--state', state, '--box', 'home-1'], { env: { FELHOM_RECOVERY_CODE: code.toLowerCase() } });
  t.equal(again.code, 0, again.stderr);
  t.equal(codeOf(again.stdout), code);
  const wrong = await felhom(['custody', 'recovery-sheet', '--state', state, '--box', 'home-1'], { env: { FELHOM_RECOVERY_CODE: newRecoveryCode() } });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /EKEYFILE_WRONG_PASSPHRASE/);
  t.notOk(wrong.stdout.includes(code));

  const replacement = await enrolledState(t, hub, 'home-1', true);
  const refused = await felhom(['custody', 'recover', '--state', replacement, '--box', 'home-1', '--hub', hub.hub.url], { env: { FELHOM_RECOVERY_CODE: newRecoveryCode() } });
  t.equal(refused.code, 1);
  t.match(refused.stderr, /EESCROW_WRONG_CODE/);
  const recovered = await felhom(['custody', 'recover', '--state', replacement, '--box', 'home-1', '--hub', hub.hub.url, '--storage-secret', 'pbs-key', '--json'], { env: { FELHOM_RECOVERY_CODE: code } });
  t.equal(recovered.code, 0, recovered.stderr);
  t.same(JSON.parse(recovered.stdout), { box: 'home-1', fingerprint, custody: 'zero-knowledge-escrow' });
  t.equal(await readFile(join(replacement, 'keys', 'pbs-encryption-key.json'), 'utf8'), keyfile);
  const audit = await felhom(['audit', 'show', '--state', replacement, '--json']);
  t.match(audit.stdout, /key\.escrow\.unwrap/);
});

t.test('custody set moves between custodies; operator-managed lets an operator unwrap with custody unwrap', async (t) => {
  const hub = await startTestHub(t);
  const state = await enrolledState(t, hub, 'home-2');
  const created = await felhom(['custody', 'create', '--state', state, '--box', 'home-2', '--custody', 'customer-only', '--json']);
  t.equal(created.code, 0, created.stderr);
  const { recoveryCode, escrowed } = JSON.parse(created.stdout);
  t.equal(escrowed, false);

  const keysDir = (await fresh(t));
  const operator = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
  await writeFile(join(keysDir, 'op.pub.asc'), operator.publicKey);
  await writeFile(join(keysDir, 'op.key.asc'), operator.privateKey);
  const moved = await felhom(['custody', 'set', '--state', state, '--box', 'home-2', '--hub', hub.hub.url, '--custody', 'operator-managed', '--operator-key', join(keysDir, 'op.pub.asc')], { env: { FELHOM_RECOVERY_CODE: recoveryCode } });
  t.equal(moved.code, 0, moved.stderr);
  t.match(moved.stdout, new RegExp(`now operator-managed \\(operator keys ${operator.fingerprint}\\)`));

  const out = join((await fresh(t)), 'home-2.pbs-key.json');
  const unwrapped = await felhom(['custody', 'unwrap', '--box', 'home-2', '--hub', hub.hub.url, '--operator-key', join(keysDir, 'op.key.asc'), '--out', out], { env: { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN, FELHOM_KEY_PASSPHRASE: 'op pass' } });
  t.equal(unwrapped.code, 0, unwrapped.stderr);
  t.match(unwrapped.stdout, /its passphrase is the recovery code/);
  t.ok(await openKeyfile(await readFile(out, 'utf8'), recoveryCode));
  const twice = await felhom(['custody', 'unwrap', '--box', 'home-2', '--hub', hub.hub.url, '--operator-key', join(keysDir, 'op.key.asc'), '--out', out], { env: { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN, FELHOM_KEY_PASSPHRASE: 'op pass' } });
  t.match(twice.stderr, /EEXIST/);

  const back = await felhom(['custody', 'set', '--state', state, '--box', 'home-2', '--hub', hub.hub.url, '--custody', 'zero-knowledge-escrow', '--json'], { env: { FELHOM_RECOVERY_CODE: recoveryCode } });
  t.equal(back.code, 0, back.stderr);
  t.equal(JSON.parse(back.stdout).custody, 'zero-knowledge-escrow');
  const toCustomer = await felhom(['custody', 'set', '--state', state, '--box', 'home-2', '--hub', hub.hub.url, '--custody', 'customer-only']);
  t.equal(toCustomer.code, 0, toCustomer.stderr);
  t.equal(toCustomer.stdout, 'key custody of box home-2 is now customer-only\n', 'no code asked for customer-only');
  const again = await felhom(['custody', 'set', '--state', state, '--box', 'home-2', '--hub', hub.hub.url, '--custody', 'zero-knowledge-escrow'], { env: { FELHOM_RECOVERY_CODE: recoveryCode } });
  t.equal(again.code, 0, again.stderr);
  const operatorNow = await felhom(['custody', 'unwrap', '--box', 'home-2', '--hub', hub.hub.url, '--out', join((await fresh(t)), 'x.json')], { env: { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN, FELHOM_RECOVERY_CODE: recoveryCode } });
  t.equal(operatorNow.code, 1);
  t.match(operatorNow.stderr, /EESCROW_ZERO_KNOWLEDGE/);
});

t.test('custody unwrap opens a blob file with the customer\'s code on any machine', async (t) => {
  const hub = await startTestHub(t);
  const state = await enrolledState(t, hub, 'home-3');
  const created = JSON.parse((await felhom(['custody', 'create', '--state', state, '--box', 'home-3', '--hub', hub.hub.url, '--json'])).stdout);
  const { HubClient } = await import('../../runner/hub/client.js');
  const box = new HubClient({ url: hub.hub.url, token: await readFile(join(state, 'keys', 'hub-api-key'), 'utf8') });
  const blobFile = join((await fresh(t)), 'escrow.json');
  await writeFile(blobFile, JSON.stringify(await box.fetchEscrow('home-3')));
  const out = join((await fresh(t)), 'key.json');
  const result = await felhom(['custody', 'unwrap', '--escrow', blobFile, '--out', out, '--json'], { env: { FELHOM_RECOVERY_CODE: created.recoveryCode } });
  t.equal(result.code, 0, result.stderr);
  t.same(JSON.parse(result.stdout), { box: 'home-3', fingerprint: created.fingerprint, keyfile: out });
  const bad = join((await fresh(t)), 'bad.json');
  await writeFile(bad, '{');
  t.match((await felhom(['custody', 'unwrap', '--escrow', bad, '--out', join((await fresh(t)), 'y')])).stderr, /EESCROW_MALFORMED/);
  t.equal((await felhom(['custody', 'unwrap', '--out', join((await fresh(t)), 'y')])).code, 2);
});

t.test('bad command lines are usage errors naming the option', async (t) => {
  const state = (await fresh(t));
  const bad = await felhom(['custody', 'create', '--state', state, '--box', 'b', '--custody', 'nobody']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /--custody: expected one of customer-only, zero-knowledge-escrow, operator-managed/);
  const noHub = await felhom(['custody', 'create', '--state', state, '--box', 'b'], { env: { FELHOM_HUB_URL: '' } });
  t.equal(noHub.code, 1);
  t.match(noHub.stderr, /EHUB_NEEDED/);
  const noKey = await felhom(['custody', 'create', '--state', (await fresh(t)), '--box', 'b', '--hub', 'http://127.0.0.1:1']);
  t.equal(noKey.code, 2);
  t.match(noKey.stderr, /no hub API key/);
  const noSheet = await felhom(['custody', 'recovery-sheet', '--state', (await fresh(t)), '--box', 'b']);
  t.match(noSheet.stderr, /ENO_KEY/);
  const recoverNoHub = await felhom(['custody', 'recover', '--state', (await fresh(t)), '--box', 'b'], { env: { FELHOM_HUB_URL: '' } });
  t.equal(recoverNoHub.code, 2);
});
