/**
 * Disaster recovery with the recovery code (docs/architecture.md#restore-mode), end to end on real parts: a box backs up
 * to the offsite PBS (the PVE API simulator) and escrows its key at a real hub; the site is lost
 * (the guest is gone, the local NAS unreachable); a replacement enrolled under the same identity
 * gets its key back only with the customer's code, then restores through the existing restore
 * path (restoreSources → planRestore → runRestore) from the fastest surviving source.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { AuditLog } from '../../../runner/state/audit.js';
import { createBoxKey, recoverFromEscrow, custodyFiles } from '../../../runner/custody/custody.js';
import { unwrapEscrow } from '../../../runner/custody/escrow.js';
import { openKeyfile } from '../../../runner/custody/pbs-keyfile.js';
import { newRecoveryCode } from '../../../runner/custody/recovery-code.js';
import { HubClient } from '../../../runner/hub/client.js';
import { ProxmoxApiOperations } from '../../../runner/agent/proxmox-api-operations.js';
import { restoreSources } from '../../../runner/agent/agent.js';
import { planRestore, runRestore } from '../../../runner/agent/deploy.js';
import { resolveBox } from '../../../stacks/spec/resolve.js';
import { catalogLookup } from '../../../stacks/spec/catalog.js';
import { validateBoxSpec } from '../../../stacks/spec/validate.js';
import { loadGoldenTemplate } from '../../../templates/lib/golden.js';
import { homeBox } from '../../helpers/box-spec.js';
import { startTestHub } from '../../helpers/hub.js';
import { hostAsApplied, startTestSimulator } from '../../helpers/pve-sim.js';

const BOX = 'hb-0001';
const cost = { keyfile: { n: 1024, r: 8, p: 1 }, escrow: { n: 1024, r: 8, p: 1 } };

async function fresh(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-dr-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('site loss: the replacement box restores from PBS only after the customer enters the recovery code', async (t) => {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const hub = await startTestHub(t);
  const ops = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });

  // The box as it ran: its key escrowed, a nightly offsite backup taken.
  const original = await fresh(t);
  const { apiKey } = await hub.operator.enrollBox(BOX);
  const originalBox = new HubClient({ url: hub.hub.url, token: apiKey });
  const created = await createBoxKey({ stateDir: original, box: BOX, audit: await AuditLog.open(AuditLog.fileIn(original)), hub: originalBox, cost }, { storageSecret: 'pbs-encryption-key' });
  await sim.api.runTask('POST', 'pve', '/nodes/pve/vzdump', { vmid: '200', storage: 'offsite', mode: 'snapshot' });

  // The site is lost: the guest is gone with the hardware; the local NAS is not reachable.
  await sim.api.runTask('DELETE', 'pve', '/nodes/pve/lxc/200', { force: 1, purge: 1 });
  t.notOk(await ops.guestExists(200));

  // Restore mode: the operator re-issues the box's identity to the replacement.
  const rotated = await hub.operator.rotateBoxKey(BOX);
  const replacementDir = await fresh(t);
  const replacement = { stateDir: replacementDir, box: BOX, audit: await AuditLog.open(AuditLog.fileIn(replacementDir)), hub: new HubClient({ url: hub.hub.url, token: rotated.apiKey }), cost };

  // The operator alone cannot complete it: the blob is refused to operators, and useless without the code.
  await t.rejects(hub.operator.fetchEscrowAsOperator(BOX), { hubCode: 'EESCROW_ZERO_KNOWLEDGE' });
  const blob = (await replacement.hub.fetchEscrow(BOX))!.escrow;
  await t.rejects(unwrapEscrow(blob, newRecoveryCode()), { code: 'EESCROW_WRONG_CODE' });

  // The customer mistypes once (refused, counted), then enters the code.
  await t.rejects(recoverFromEscrow(replacement, newRecoveryCode(), { storageSecret: 'pbs-encryption-key' }), { code: 'EESCROW_WRONG_CODE' });
  const recovered = await recoverFromEscrow(replacement, created.recoveryCode, { storageSecret: 'pbs-encryption-key' });
  t.equal(recovered.fingerprint, created.fingerprint);
  const storageKey = await readFile(join(custodyFiles(replacementDir).secrets, 'pbs-encryption-key'), 'utf8');
  const originalKey = await readFile(join(custodyFiles(original).secrets, 'pbs-encryption-key'), 'utf8');
  t.equal(JSON.parse(storageKey).data, JSON.parse(originalKey).data, 'the storage gets the same key back');
  t.equal((await openKeyfile(storageKey, '')).fingerprint, created.fingerprint);

  // The existing restore path: fastest surviving source first; only the PBS has the guest.
  const catalog = catalogLookup();
  const validation = validateBoxSpec(homeBox(), { catalog });
  if (!validation.ok) throw new Error('the home box example does not validate');
  const box = resolveBox(validation.spec, catalog, loadGoldenTemplate().sizing);
  const sources = await restoreSources(ops, box, undefined);
  const plan = planRestore(box.guests, sources, 'local-lvm');
  t.same(plan.unrecoverable, []);
  t.match(plan.actions[0], { kind: 'restore', vmId: 200, from: 'offsite' });
  const { restored } = await runRestore(plan, { ops, up: async () => undefined });
  t.same(restored, [200]);
  t.ok(await ops.guestExists(200), 'the guest is back');

  const log = await readFile(AuditLog.fileIn(replacementDir), 'utf8');
  t.match(log, /"action":"key.escrow.unwrap".*"outcome":"rejected".*1 so far/);
  t.match(log, /"action":"key.escrow.unwrap".*"outcome":"succeeded"/);
});
