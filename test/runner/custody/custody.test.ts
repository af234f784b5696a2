import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AuditLog, verifyAuditLog } from '../../../runner/state/audit.js';
import { generateKey, readPrivateKey, readPublicKey } from '../../../runner/envelope/keys.js';
import { keyfileInfo, openKeyfile } from '../../../runner/custody/pbs-keyfile.js';
import { newRecoveryCode } from '../../../runner/custody/recovery-code.js';
import { recoveryCodeFromOperatorKey } from '../../../runner/custody/escrow.js';
import {
  changeCustody,
  checkRecoveryCode,
  createBoxKey,
  CustodyError,
  custodyFiles,
  readCustodyState,
  recoverFromEscrow,
  recoverySheet,
  syncEscrowAccesses,
  type CustodyContext,
} from '../../../runner/custody/custody.js';
import { startTestHub } from '../../helpers/hub.js';

/** A new empty directory per call (t.testdir() is one directory per test, recreated on each call). */
async function fresh(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-custody-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const cost = { keyfile: { n: 1024, r: 8, p: 1 }, escrow: { n: 1024, r: 8, p: 1 } };

async function boxContext(t: Test, hub?: Awaited<ReturnType<typeof startTestHub>>, box = 'home-1'): Promise<CustodyContext & { auditFile: string }> {
  const stateDir = (await fresh(t));
  const auditFile = AuditLog.fileIn(stateDir);
  const audit = await AuditLog.open(auditFile);
  return { stateDir, box, audit, cost, auditFile, ...(hub ? { hub: await hub.enroll(box) } : {}) };
}

async function auditActions(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  return text.trim().split('\n').map((line) => {
    const entry = JSON.parse(line);
    return `${entry.action}:${entry.outcome}`;
  });
}

t.test('zero-knowledge escrow (the default): key created, escrowed at the hub, recoverable with the code on a new box', async (t) => {
  const hub = await startTestHub(t);
  const ctx = await boxContext(t, hub);
  const created = await createBoxKey(ctx, { storageSecret: 'pbs-key' });
  t.equal(created.custody, 'zero-knowledge-escrow');
  t.ok(created.escrowed);
  const files = custodyFiles(ctx.stateDir);
  t.equal((await stat(files.keyfile)).mode & 0o777, 0o600);
  const keyfile = await readFile(files.keyfile, 'utf8');
  t.equal((await openKeyfile(keyfile, created.recoveryCode)).fingerprint, created.fingerprint, 'the code is the keyfile passphrase');
  const storage = await readFile(join(files.secrets, 'pbs-key'), 'utf8');
  t.equal(keyfileInfo(storage).kdf, 'none', 'the storage secret is the passphrase-less form Proxmox VE holds');
  t.equal((await openKeyfile(storage, '')).fingerprint, created.fingerprint);
  t.notOk((await readFile(files.state, 'utf8')).includes(created.recoveryCode.slice(0, 9)), 'the code is not in the custody state');
  t.notOk((await readFile(ctx.auditFile, 'utf8')).includes(created.recoveryCode.slice(0, 9)), 'nor in the audit log');
  t.same(await auditActions(ctx.auditFile), ['key.create:succeeded', 'key.escrow.store:succeeded']);
  t.ok(await checkRecoveryCode(ctx.stateDir, created.recoveryCode.toLowerCase()));

  // The box dies; a replacement is enrolled with the same identity (a new API key).
  const rotated = await hub.operator.rotateBoxKey('home-1');
  const { HubClient } = await import('../../../runner/hub/client.js');
  const replacement: CustodyContext & { auditFile: string } = { ...(await boxContext(t)), hub: new HubClient({ url: hub.hub.url, token: rotated.apiKey }) };
  await t.rejects(recoverFromEscrow(replacement, newRecoveryCode()), { code: 'EESCROW_WRONG_CODE' });
  await t.rejects(recoverFromEscrow(replacement, newRecoveryCode()), { code: 'EESCROW_WRONG_CODE' });
  t.equal((await readCustodyState(replacement.stateDir))?.failedUnwraps, 2, 'wrong codes are counted');
  const recovered = await recoverFromEscrow(replacement, created.recoveryCode, { storageSecret: 'pbs-key' });
  t.equal(recovered.fingerprint, created.fingerprint);
  t.equal(recovered.keyfile, keyfile);
  t.equal((await openKeyfile(await readFile(join(custodyFiles(replacement.stateDir).secrets, 'pbs-key'), 'utf8'), '')).fingerprint, created.fingerprint);
  t.same(await auditActions(replacement.auditFile), [
    'key.escrow.read:succeeded', 'key.escrow.unwrap:rejected',
    'key.escrow.read:succeeded', 'key.escrow.unwrap:rejected',
    'key.escrow.read:succeeded', 'key.escrow.unwrap:succeeded',
  ]);
  t.equal((await verifyAuditLog(replacement.auditFile)).problems.length, 0);
  await t.rejects(createBoxKey(replacement), { code: 'EKEY_EXISTS' }, 'a second key would orphan the backups');
});

t.test('customer-only: nothing goes to the hub; moving to escrow needs the code; back to customer-only deletes it', async (t) => {
  const hub = await startTestHub(t);
  const ctx = await boxContext(t, hub);
  const created = await createBoxKey(ctx, { custody: 'customer-only' });
  t.notOk(created.escrowed);
  t.equal(await ctx.hub!.fetchEscrow('home-1'), null);
  await t.rejects(changeCustody(ctx, { custody: 'zero-knowledge-escrow' }), { code: 'ERECOVERY_CODE_NEEDED' });
  await t.rejects(changeCustody(ctx, { custody: 'zero-knowledge-escrow', recoveryCode: newRecoveryCode() }), { code: 'EKEYFILE_WRONG_PASSPHRASE' });
  const escrowed = await changeCustody(ctx, { custody: 'zero-knowledge-escrow', recoveryCode: created.recoveryCode });
  t.equal(escrowed.custody, 'zero-knowledge-escrow');
  t.ok(await ctx.hub!.fetchEscrow('home-1'));
  const back = await changeCustody(ctx, { custody: 'customer-only' });
  t.equal(back.custody, 'customer-only');
  t.equal(back.escrowedAt, null);
  t.same(await auditActions(ctx.auditFile), ['key.create:succeeded', 'key.escrow.store:failed', 'key.escrow.store:succeeded', 'key.custody.change:succeeded', 'key.custody.change:succeeded']);
  const accesses = await syncEscrowAccesses(ctx);
  t.same(accesses, [], 'only the box touched it: nothing to notify');
  const actions = await auditActions(ctx.auditFile);
  t.same(actions.slice(-3), ['key.escrow.hub-store:accepted', 'key.escrow.hub-read:accepted', 'key.escrow.hub-delete:accepted']);
  t.same(await syncEscrowAccesses(ctx), []);
  t.equal((await auditActions(ctx.auditFile)).length, actions.length, 'accesses are copied once');
});

t.test('operator-managed: the operator key recovers the code; the operator\'s read reaches the customer\'s audit log', async (t) => {
  const hub = await startTestHub(t);
  const ctx = await boxContext(t, hub);
  const operator = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
  await t.rejects(createBoxKey(ctx, { custody: 'operator-managed' }), { code: 'EOPERATOR_KEYS_NEEDED' });
  const created = await createBoxKey(ctx, { custody: 'operator-managed', operatorKeys: [await readPublicKey(operator.publicKey)] });
  t.same((await readCustodyState(ctx.stateDir))?.operatorKeys, [operator.fingerprint]);
  const held = await hub.operator.fetchEscrowAsOperator('home-1');
  t.equal(await recoveryCodeFromOperatorKey(held!.escrow, await readPrivateKey(operator.privateKey, 'op pass')), created.recoveryCode);
  const notify = await syncEscrowAccesses(ctx);
  t.match(notify, [{ by: 'admin', action: 'read' }]);
  const log = await readFile(ctx.auditFile, 'utf8');
  t.match(log, /"actor":"admin","action":"key.escrow.hub-read"/);
  t.match(log, /operator keys [0-9A-F]{40} can unwrap it/);
});

t.test('custody steps that cannot be done say why', async (t) => {
  const ctx = await boxContext(t);
  await t.rejects(createBoxKey(ctx), { name: 'CustodyError', code: 'EHUB_NEEDED' });
  await t.rejects(changeCustody(ctx, { custody: 'customer-only' }), { code: 'ENO_KEY' });
  await t.rejects(checkRecoveryCode(ctx.stateDir, newRecoveryCode()), { code: 'ENO_KEY' });
  const created = await createBoxKey(ctx, { custody: 'customer-only' });
  await t.rejects(checkRecoveryCode(ctx.stateDir, newRecoveryCode()), { code: 'EKEYFILE_WRONG_PASSPHRASE' });
  t.equal(await checkRecoveryCode(ctx.stateDir, created.recoveryCode), created.recoveryCode);
  await t.rejects(createBoxKey(await boxContext(t), { custody: 'customer-only', storageSecret: '../x' }), { code: 'EUSAGE' });
  const hub = await startTestHub(t);
  const empty = await boxContext(t, hub, 'empty-box');
  await t.rejects(recoverFromEscrow(empty, newRecoveryCode()), { code: 'ENO_ESCROW' });
  t.ok(new CustodyError('X', 'y') instanceof Error);
});

t.test('the recovery sheet carries the code, the fingerprint, the custody and where the backups are', async (t) => {
  const code = newRecoveryCode();
  const sheet = recoverySheet({ box: 'home-1', recoveryCode: code, fingerprint: 'ab:cd', custody: 'zero-knowledge-escrow', pbs: { server: 'pbs.example', datastore: 'offsite', namespace: 'customers/home-1' } });
  t.match(sheet, new RegExp(`^ {4}${code}$`, 'm'));
  t.match(sheet, /server pbs\.example, datastore offsite, namespace customers\/home-1/);
  t.match(sheet, /escrowed copy at the Felhom hub/);
  t.match(recoverySheet({ box: 'b', recoveryCode: code, fingerprint: 'x', custody: 'customer-only' }), /the operator holds no copy/);
});
