// The agent's own checks: drift (refresh + preview of the last applied spec, reported through the
// outbox, never corrected) and storage health, whose failure to run is logged, not thrown.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { checkDrift, checkStorage } from '../../../runner/agent/checks.js';
import { PveApiClient } from '../../../runner/agent/pve-api-client.js';
import { pveStorageProbe, StorageMonitor } from '../../../runner/agent/storage-health.js';
import { agentWorld, boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { contextWorld } from '../../helpers/agent-context.js';
import { startTestSimulator } from '../../helpers/pve-sim.js';

const AT = new Date('2026-11-30T10:00:00Z');

t.test('drift with no spec applied: no-spec, no engine, nothing reported', async (t) => {
  const w = await contextWorld(t);
  t.same(await checkDrift(w.ctx), { status: 'no-spec', drifted: false });
  t.equal(w.ctx.counters.engineRuns, 0);
  t.same(await w.world.hub.operator.listReports({ box: BOX }), []);
});

t.test('drift of the applied spec: counted, reported and audited, nothing corrected; the time kept', async (t) => {
  const w = await contextWorld(t, (options) => ({ ...options, runtime: { clock: () => AT } }));
  // applied in the journal, but its resources are not on the stack: everything has drifted away
  await w.applied(await w.item({ serial: 2, body: boxSpec(), issuedAt: new Date(AT.getTime() - 3600_000), expiresAt: new Date(AT.getTime() + 3600_000) }));
  const result = await checkDrift(w.ctx);
  t.match(result, { status: 'checked', drifted: true, counts: { create: 10 } });
  t.equal(w.ctx.counters.engineRuns, 2, 'refresh and preview');
  t.same(await readdir(w.world.outputDir), [], 'never corrected');
  t.equal(w.ctx.stores.agent.data.lastDriftAt[w.ctx.key], AT.toISOString());
  t.match(await w.world.hub.operator.listReports({ box: BOX }), [{ jobId: `drift-${BOX}.host-${AT.toISOString()}`, outcome: 'succeeded', engine: { created: 10 } }]);
  t.match((await verifyAuditLog(w.audit.file)).entries, [{ actor: 'agent', action: 'drift.check', envelopeDigest: null, reason: { code: 'EDRIFT', message: '10 resource(s) drifted from the applied spec' } }]);
});

t.test('a storage check that cannot run is logged and does not throw; with no spec applied it does not run', async (t) => {
  const sim = await startTestSimulator(t);
  const monitor = new StorageMonitor(pveStorageProbe(new PveApiClient({ endpoint: sim.sim.url, token: sim.sim.token, ca: sim.sim.certificate, pollMs: 20 }), 'pve', async () => undefined));
  await sim.sim.close();
  const warnings: string[] = [];
  const logger = { debug: () => {}, info: () => {}, error: () => {}, warn: (message: string) => void warnings.push(message) };
  const w = await contextWorld(t, (options) => ({ ...options, runtime: { logger } }));
  await checkStorage(w.ctx, monitor);
  t.same(warnings, [], 'no spec applied: not checked');
  await w.applied(await w.item({ serial: 2, body: boxSpec() }));
  await checkStorage(w.ctx, monitor);
  t.same(warnings, ['storage check failed']);
  t.same(w.ctx.stores.agent.data.outbox, [], 'nothing reported');
});

t.test("the agent's drift check and the time it last ran", async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  const agent = await world.agent();
  t.equal(agent.stackName, `${BOX}.host`);
  t.equal(agent.lastDriftAt(), undefined, 'never checked');
  await agent.cycle();
  t.match(await agent.checkDrift(), { status: 'checked', drifted: false });
  t.type(agent.lastDriftAt(), Date, 'checked now');
});
