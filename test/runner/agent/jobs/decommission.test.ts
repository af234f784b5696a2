/**
 * The decommission job end to end on real parts: the PVE API simulator (vzdump, API tokens),
 * a real hub, the box's real audit log and custody files. Afterwards every credential is tried
 * one by one, and the hand-off bundle is used to restore a guest with the customer's own access.
 */
import { mkdtemp, readFile, rm, writeFile, mkdir, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { createTrustStore, loadTrustStore, serializeTrustStore } from '../../../../runner/envelope/trust.js';
import { generateKey } from '../../../../runner/envelope/keys.js';
import { AuditLog } from '../../../../runner/state/audit.js';
import { createBoxKey } from '../../../../runner/custody/custody.js';
import { openKeyfile } from '../../../../runner/custody/pbs-keyfile.js';
import { HubClient } from '../../../../runner/hub/client.js';
import { ProxmoxApiOperations } from '../../../../runner/agent/proxmox-api-operations.js';
import { PveApiClient } from '../../../../runner/agent/pve-api-client.js';
import { findProjectRoot } from '../../../../runner/engine/locate.js';
import type { Logger } from '../../../../runner/agent/logger.js';
import type { BoxSpec } from '../../../../stacks/spec/types.js';
import { DecommissionError, finalBackupStorage, runDecommission, type DecommissionContext, type DecommissionOperations } from '../../../../runner/agent/jobs/decommission.js';
import { parseApiToken, PveDecommissionOperations } from '../../../../runner/agent/jobs/decommission-pve.js';
import { homeBox } from '../../../helpers/box-spec.js';
import { startTestHub } from '../../../helpers/hub.js';
import { hostAsApplied, startTestSimulator } from '../../../helpers/pve-sim.js';

const BOX = 'hb-0001';
const cost = { keyfile: { n: 1024, r: 8, p: 1 }, escrow: { n: 1024, r: 8, p: 1 } };

async function fresh(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-decommission-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const exists = (file: string) => access(file).then(() => true, () => false);

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

const catalogManifest = async (template: string) => {
  try {
    return await readFile(join(findProjectRoot(), 'templates', 'apps', template, '.felhom.yml'), 'utf8');
  } catch {
    return undefined;
  }
};

/** A box as it runs before offboarding: host applied, PBS key escrowed, hub key, trust store, tunnel credentials, its own PVE token. */
async function runningBox(t: Test) {
  const sim = await startTestSimulator(t);
  await hostAsApplied(sim, BOX);
  const created = await sim.api.post<{ value: string }>('/access/users/root@pam/token/felhom-agent', { privsep: 0 });
  const agentToken = `root@pam!felhom-agent=${created.value}`;
  const hub = await startTestHub(t);
  const { apiKey } = await hub.operator.enrollBox(BOX);
  const box = new HubClient({ url: hub.hub.url, token: apiKey });
  const stateDir = await fresh(t);
  await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
  await mkdir(join(stateDir, 'secrets'), { recursive: true, mode: 0o700 });
  const hubApiKeyFile = join(stateDir, 'keys', 'hub-api-key');
  await writeFile(hubApiKeyFile, apiKey, { mode: 0o600 });
  await writeFile(join(stateDir, 'secrets', 'pbs-token'), 'pbs-token-secret\n', { mode: 0o600 });
  const tunnelCredentials = join(stateDir, 'secrets', 'tunnel-token');
  await writeFile(tunnelCredentials, 'tunnel-secret', { mode: 0o600 });
  const operator = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
  const trustStore = join(stateDir, 'trust.json');
  await writeFile(trustStore, serializeTrustStore(await createTrustStore([operator.publicKey])));
  const audit = await AuditLog.open(AuditLog.fileIn(stateDir));
  const key = await createBoxKey({ stateDir, box: BOX, audit, hub: box, cost }, { storageSecret: 'pbs-encryption-key' });
  const api = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: agentToken, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  const operations = new PveDecommissionOperations(api, agentToken, async () => {
    await rm(tunnelCredentials);
  });
  const logger = recordingLogger();
  const ctx: DecommissionContext = {
    box: BOX,
    stateDir,
    audit,
    hub: box,
    operations,
    logger,
    spec: homeBox() as unknown as BoxSpec,
    trustStore,
    hubApiKeyFile,
    catalogManifest,
    actor: operator.fingerprint,
    envelopeDigest: 'd'.repeat(64),
  };
  return { sim, hub, box, ctx, key, agentToken, tunnelCredentials, logger };
}

t.test('decommission: final backup, hand-off bundle, then every credential revoked; none works afterwards; the bundle restores', async (t) => {
  const { sim, hub, box, ctx, key, agentToken, tunnelCredentials, logger } = await runningBox(t);
  let reportedBefore: string[] = [];
  const result = await runDecommission({
    ...ctx,
    beforeHubRevocation: async (steps) => {
      // The agent's final report still reaches the hub here.
      await box.postReport(BOX, { jobId: 'f'.repeat(64), tier: 'host', outcome: 'succeeded' });
      reportedBefore = steps.map((s) => s.step);
    },
  }, { action: 'decommission', confirm: BOX });
  t.same(result.steps.map((s) => s.step), ['final-backup', 'hand-off', 'audit-upload', 'escrow', 'tunnel', 'proxmox-token', 'operator-keys', 'hub-credential']);
  t.same(reportedBefore, ['final-backup', 'hand-off', 'audit-upload', 'escrow', 'tunnel', 'proxmox-token', 'operator-keys']);
  t.match(await hub.operator.listReports({ box: BOX }), [{ jobId: 'f'.repeat(64), outcome: 'succeeded' }], 'the report sent before the revocation arrived');
  t.same(result.finalBackups.map((v) => v.vmId), [200]);
  t.match(result.finalBackups[0]!.volid, /^offsite:backup\/ct\/200\//, 'to the offsite PBS by default');

  // ---- every credential, one by one ----
  await t.rejects(box.fetchEscrow(BOX), { code: 'EHUB_AUTH', status: 401 }, 'the hub API key is revoked');
  t.notOk(await exists(ctx.hubApiKeyFile), 'and deleted on the box');
  const agentApi = new PveApiClient({ endpoint: sim.sim.url, token: agentToken, ca: sim.sim.certificate });
  await t.rejects(agentApi.get('/version'), { status: 401 }, 'the Proxmox API token opens nothing');
  t.notOk(await exists(tunnelCredentials), 'the tunnel credentials are gone');
  await t.rejects(loadTrustStore(ctx.trustStore), undefined, 'no operator key is trusted on the box');
  t.equal(await hub.operator.fetchEscrowAsOperator(BOX), null, "the hub's escrow is deleted");

  // ---- the hand-off bundle ----
  const bundle = result.bundle;
  const keyfile = await readFile(join(bundle, 'pbs-encryption-key.json'), 'utf8');
  t.equal((await openKeyfile(keyfile, key.recoveryCode)).fingerprint, key.fingerprint, 'the keyfile opens with the recovery code');
  const pbsAccess = JSON.parse(await readFile(join(bundle, 'pbs-access.json'), 'utf8'));
  t.match(pbsAccess, [{ storage: 'offsite', server: 'pbs.felhom.hu', datastore: 'customers', username: String, password: 'pbs-token-secret' }]);
  const spec = JSON.parse(await readFile(join(bundle, 'box-spec.json'), 'utf8'));
  t.equal(spec.metadata.box, BOX);
  for (const app of spec.spec.apps as { template: string }[]) t.ok(await exists(join(bundle, 'apps', `${app.template}.felhom.yml`)), `the ${app.template} manifest`);
  const recovery = await readFile(join(bundle, 'RECOVERY.txt'), 'utf8');
  t.match(recovery, /proxmox-backup-client restore --ns customers\/c-1042/);
  t.match(recovery, result.finalBackups[0]!.volid);
  const sums = (await readFile(join(bundle, 'SHA256SUMS'), 'utf8')).trim().split('\n');
  t.ok(sums.some((line) => line.endsWith('  pbs-encryption-key.json')));

  // The customer restores with their own access (the host's root token), no Felhom service.
  const customer = new ProxmoxApiOperations({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, node: 'pve', pollMs: 20 });
  await customer.restore(201, result.finalBackups[0]!.volid, { storage: 'local-lvm' });
  t.ok(await customer.guestExists(201), 'a guest restored from the final backup');

  // ---- audited, step by step; the hub got the log before the key went ----
  const entries = (await readFile(ctx.audit.file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  t.same(entries.filter((e) => e.action.startsWith('decommission.')).map((e) => `${e.action}:${e.outcome}`), result.steps.map((s) => `decommission.${s.step}:succeeded`));
  t.ok(entries.every((e) => !JSON.stringify(e).includes(key.recoveryCode.slice(0, 9))), 'no recovery code in the log');
  const uploaded = await hub.operator.listAudit(BOX);
  t.ok(uploaded.some((e) => e.action === 'key.create'));
  t.ok(uploaded.some((e) => e.action === 'decommission.hand-off'));
  t.notOk(logger.lines.some((line) => line.includes('pbs-token-secret')), 'no secret in the log lines');
});

t.test('a failed final backup stops the decommission before any credential is touched', async (t) => {
  const { ctx, box, agentToken, sim } = await runningBox(t);
  const failing: DecommissionOperations = {
    backupNow: async () => {
      throw Object.assign(new Error('vzdump: storage offsite is not online'), { code: 'EHOST_OPERATION' });
    },
    revokeApiToken: async () => t.fail('must not revoke'),
  };
  const error = await runDecommission({ ...ctx, operations: failing }, { action: 'decommission', confirm: BOX }).catch((e: unknown) => e);
  t.ok(error instanceof DecommissionError);
  t.match(error, { step: 'final-backup', code: 'EHOST_OPERATION', kind: 'stalled' });
  t.ok(await box.fetchEscrow(BOX), 'the hub key and the escrow still work');
  t.ok(await new PveApiClient({ endpoint: sim.sim.url, token: agentToken, ca: sim.sim.certificate }).get('/version'));
  t.ok(await loadTrustStore(ctx.trustStore));
  t.match(await readFile(ctx.audit.file, 'utf8'), /"action":"decommission.final-backup","box":"hb-0001","tier":"host","envelopeDigest":"d+","outcome":"failed"/);
});

t.test('a backup that misses a guest, a wrong confirmation and a missing key are refused', async (t) => {
  const { ctx } = await runningBox(t);
  await t.rejects(runDecommission(ctx, { action: 'decommission', confirm: 'other-box' }), { code: 'EDECOMMISSION_CONFIRM' });
  const partial: DecommissionOperations = { backupNow: async () => [], revokeApiToken: async () => undefined };
  await t.rejects(runDecommission({ ...ctx, operations: partial }, { action: 'decommission', confirm: BOX }), { step: 'final-backup', code: 'EFINAL_BACKUP', message: /no archive for guest\(s\) 200/ });
  const noKeyDir = await fresh(t);
  const ok: DecommissionOperations = { backupNow: async (vmIds, storage) => vmIds.map((vmId) => ({ volid: `${storage}:backup/x-${vmId}`, vmId, ctime: 1 })), revokeApiToken: async () => undefined };
  await t.rejects(runDecommission({ ...ctx, stateDir: noKeyDir, operations: ok }, { action: 'decommission', confirm: BOX }), { step: 'hand-off', code: 'ENO_KEY' });
});

t.test('the final backup goes to the named storage, else the offsite PBS, else the first backup storage', async (t) => {
  const spec = homeBox() as unknown as BoxSpec;
  t.equal(finalBackupStorage(spec, {}), 'offsite');
  t.equal(finalBackupStorage(spec, { finalBackup: { storage: 'nas-backup' } }), 'nas-backup');
  t.throws(() => finalBackupStorage(spec, { finalBackup: { storage: 'usb-media' } }), { code: 'EFINAL_BACKUP', message: /not a storage with the backup role/ });
  const noPbs = homeBox((draft) => {
    draft.spec.storage = draft.spec.storage!.filter((s) => s.type !== 'pbs');
  }) as unknown as BoxSpec;
  t.equal(finalBackupStorage(noPbs, {}), 'nas-backup');
  const none = homeBox((draft) => {
    draft.spec.storage = [];
  }) as unknown as BoxSpec;
  t.throws(() => finalBackupStorage(none, {}), { code: 'EFINAL_BACKUP' });
});

t.test('the agent token is parsed as PVE writes it; anything else is refused', async (t) => {
  t.same(parseApiToken('root@pam!felhom=1234-abcd'), { userid: 'root@pam', tokenid: 'felhom' });
  t.throws(() => parseApiToken('nonsense'), { code: 'EHOST_OPERATION' });
});

t.test('a decommission stopped at a revocation resumes where it stopped: no second final backup', async (t) => {
  const { ctx, box } = await runningBox(t);
  let backups = 0;
  let revokeFails = true;
  const operations: DecommissionOperations = {
    backupNow: async (vmIds, storage) => {
      backups++;
      return vmIds.map((vmId) => ({ volid: `${storage}:backup/ct/${vmId}/final`, vmId, ctime: 1 }));
    },
    revokeApiToken: async () => {
      if (revokeFails) throw Object.assign(new Error('the host did not answer'), { code: 'EHOST_OPERATION', kind: 'waiting' });
    },
  };
  await t.rejects(runDecommission({ ...ctx, operations }, { action: 'decommission', confirm: BOX }), { step: 'proxmox-token', kind: 'waiting' });
  revokeFails = false;
  const result = await runDecommission({ ...ctx, operations }, { action: 'decommission', confirm: BOX });
  t.equal(backups, 1, 'the final backup is not taken again');
  t.same(result.steps.map((s) => s.step), ['final-backup', 'hand-off', 'audit-upload', 'escrow', 'tunnel', 'proxmox-token', 'operator-keys', 'hub-credential']);
  t.same(result.finalBackups.map((v) => v.volid), ['offsite:backup/ct/200/final']);
  await t.rejects(box.fetchEscrow(BOX), { code: 'EHUB_AUTH' });
  const entries = (await readFile(ctx.audit.file, 'utf8')).trim().split('\n').map((line) => JSON.parse(line));
  t.same(entries.filter((e) => e.action === 'decommission.final-backup').map((e) => e.outcome), ['succeeded'], 'audited once');
  t.same(entries.filter((e) => e.action === 'decommission.proxmox-token').map((e) => e.outcome), ['failed', 'succeeded']);
});
