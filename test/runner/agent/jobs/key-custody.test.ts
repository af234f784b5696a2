import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { generateKey } from '../../../../runner/envelope/keys.js';
import { AuditLog } from '../../../../runner/state/audit.js';
import { createBoxKey, readCustodyState } from '../../../../runner/custody/custody.js';
import { runKeyCustodyJob, type KeyCustodyJobContext } from '../../../../runner/agent/jobs/key-custody.js';
import { bodyProblems } from '../../../../runner/envelope/body.js';
import { startTestHub } from '../../../helpers/hub.js';

const cost = { keyfile: { n: 1024, r: 8, p: 1 }, escrow: { n: 1024, r: 8, p: 1 } };

async function box(t: Test): Promise<{ ctx: KeyCustodyJobContext; code: string }> {
  const stateDir = await mkdtemp(join(tmpdir(), 'felhom-key-custody-'));
  t.teardown(() => rm(stateDir, { recursive: true, force: true }));
  const hub = await startTestHub(t);
  const ctx = { stateDir, box: 'home-1', audit: await AuditLog.open(AuditLog.fileIn(stateDir)), hub: await hub.enroll('home-1'), cost, actor: 'ABCDEF', envelopeDigest: 'e'.repeat(64) };
  const { recoveryCode } = await createBoxKey(ctx);
  return { ctx, code: recoveryCode };
}

t.test('key-custody to customer-only needs no code; the entry names the signing operator and the job', async (t) => {
  const { ctx } = await box(t);
  const state = await runKeyCustodyJob(ctx, { action: 'key-custody', custody: 'customer-only' });
  t.equal(state.custody, 'customer-only');
  t.equal(await ctx.hub!.fetchEscrow('home-1'), null);
  const { readFile } = await import('node:fs/promises');
  t.match(await readFile(ctx.audit.file, 'utf8'), /"actor":"ABCDEF","action":"key.custody.change","box":"home-1","tier":"host","envelopeDigest":"e{64}"/);
});

t.test('key-custody to operator-managed asks the customer for the code and uses the job\'s operator keys', async (t) => {
  const { ctx, code } = await box(t);
  const operator = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
  await t.rejects(runKeyCustodyJob(ctx, { action: 'key-custody', custody: 'operator-managed', operatorKeys: [operator.publicKey] }), { code: 'ERECOVERY_CODE_NEEDED' });
  t.equal((await readCustodyState(ctx.stateDir))?.custody, 'zero-knowledge-escrow', 'nothing changed');
  const asked: string[] = [];
  const state = await runKeyCustodyJob({ ...ctx, recoveryCode: async (purpose) => (asked.push(purpose), code) }, { action: 'key-custody', custody: 'operator-managed', operatorKeys: [operator.publicKey] });
  t.same(state.operatorKeys, [operator.fingerprint]);
  t.match(asked, [/recovery code of box home-1 \(key custody → operator-managed\)/]);
  await t.rejects(runKeyCustodyJob(ctx, { action: 'key-custody', custody: 'operator-managed', operatorKeys: ['not a key'] }), { code: 'EKEY' });
  const other = await generateKey({ name: 'x', email: 'x@example.org', passphrase: 'x pass' });
  await t.rejects(runKeyCustodyJob({ ...ctx, specOperators: [other.fingerprint], recoveryCode: async () => code }, { action: 'key-custody', custody: 'operator-managed', operatorKeys: [operator.publicKey] }), { code: 'EOPERATOR_KEYS_NOT_IN_SPEC' });
  const matching = await runKeyCustodyJob({ ...ctx, specOperators: [operator.fingerprint], recoveryCode: async () => code }, { action: 'key-custody', custody: 'operator-managed', operatorKeys: [operator.publicKey] });
  t.same(matching.operatorKeys, [operator.fingerprint], 'the keys the spec names are accepted');
});

t.test('job bodies for key-custody and decommission are checked before dispatch, naming the field', async (t) => {
  t.same(bodyProblems({ action: 'decommission', confirm: 'box-1' }, 'job', 'box-1'), []);
  t.match(bodyProblems({ action: 'decommission' }, 'job', 'box-1'), [/body.confirm: expected the box id "box-1"/]);
  t.match(bodyProblems({ action: 'decommission', confirm: 'box-1', finalBackup: { storage: 5 } }, 'job', 'box-1'), [/body.finalBackup/]);
  t.same(bodyProblems({ action: 'decommission', confirm: 'box-1', finalBackup: { storage: 'offsite' } }, 'job', 'box-1'), []);
  t.same(bodyProblems({ action: 'key-custody', custody: 'customer-only' }, 'job', 'b'), []);
  t.match(bodyProblems({ action: 'key-custody', custody: 'nobody' }, 'job', 'b'), [/body.custody: expected one of/]);
  t.match(bodyProblems({ action: 'key-custody', custody: 'customer-only', operatorKeys: [] }, 'job', 'b'), [/only operator-managed/]);
  t.match(bodyProblems({ action: 'key-custody', custody: 'operator-managed' }, 'job', 'b'), [/non-empty array/]);
  t.match(bodyProblems({ action: 'key-custody', custody: 'operator-managed', operatorKeys: ['x'] }, 'job', 'b'), [/operatorKeys\[0\]: expected an armoured public key/]);
  t.same(bodyProblems({ action: 'key-custody', custody: 'operator-managed', operatorKeys: ['-----BEGIN PGP PUBLIC KEY BLOCK-----\n...'] }, 'job', 'b'), []);
});
