// The agent's per-cycle look at the hub's record of escrow accesses (runner/agent/checks.ts): an
// operator's read reaches the customer's audit log once and is logged as a warning; nothing to do
// under customer-only custody; a hub that cannot answer is logged, not thrown.
import t from 'tap';
import { checkEscrowAccesses } from '../../../runner/agent/checks.js';
import { createBoxKey } from '../../../runner/custody/custody.js';
import { generateKey, readPublicKey } from '../../../runner/envelope/keys.js';
import { HubClient } from '../../../runner/hub/client.js';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import type { Logger } from '../../../runner/agent/logger.js';
import { BOX } from '../../helpers/agent-fixture.js';
import { contextWorld } from '../../helpers/agent-context.js';

const cost = { keyfile: { n: 1024, r: 8, p: 1 }, escrow: { n: 1024, r: 8, p: 1 } };

function capture(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

t.test("an operator's read of the escrowed key reaches the audit log once, with a warning", async (t) => {
  const logger = capture();
  const w = await contextWorld(t, (options) => ({ ...options, runtime: { ...options.runtime, logger } }));
  const operator = await generateKey({ name: 'op', email: 'op@example.org', passphrase: 'op pass' });
  t.same(await checkEscrowAccesses(w.ctx), [], 'no key yet: nothing to check');
  await createBoxKey({ stateDir: w.ctx.stores.layout.root, box: BOX, audit: w.ctx.stores.audit, hub: w.ctx.hub, cost }, { custody: 'operator-managed', operatorKeys: [await readPublicKey(operator.publicKey)] });
  await w.world.hub.operator.fetchEscrowAsOperator(BOX);

  const fresh = await checkEscrowAccesses(w.ctx);
  t.match(fresh, [{ action: 'read' }], 'the operator read is new');
  t.notMatch(fresh[0]!.by, /^box$/);
  t.ok(logger.lines.some((line) => /^warn an operator accessed the escrowed backup key .*"action":"read"/.test(line)), 'logged as a warning');
  const audit = await verifyAuditLog(w.ctx.stores.audit.file);
  t.ok(audit.entries.some((entry) => entry.action === 'key.escrow.hub-read' && entry.actor !== 'box'), "in the customer's audit log");
  t.same(await checkEscrowAccesses(w.ctx), [], 'copied once');
});

const unreachable = () => new HubClient({ url: 'http://127.0.0.1:1', token: 'x', timeoutMs: 500 });

t.test('customer-only custody: the hub is not asked', async (t) => {
  const logger = capture();
  const w = await contextWorld(t, (options) => ({ ...options, hub: unreachable(), runtime: { ...options.runtime, logger } }));
  await createBoxKey({ stateDir: w.ctx.stores.layout.root, box: BOX, audit: w.ctx.stores.audit, cost }, { custody: 'customer-only' });
  t.same(await checkEscrowAccesses(w.ctx), []);
  t.same(logger.lines.filter((line) => line.startsWith('warn')), [], 'no hub asked (an unreachable one would be logged)');
});

t.test('a hub that cannot answer is logged and the cycle goes on', async (t) => {
  const logger = capture();
  const w = await contextWorld(t, (options) => ({ ...options, hub: unreachable(), runtime: { ...options.runtime, logger } }));
  const hub = new HubClient({ url: w.world.hub.hub.url, token: w.world.apiKey, timeoutMs: 10_000 });
  await createBoxKey({ stateDir: w.ctx.stores.layout.root, box: BOX, audit: w.ctx.stores.audit, hub, cost }, { custody: 'zero-knowledge-escrow' });
  t.same(await checkEscrowAccesses(w.ctx), []);
  t.ok(logger.lines.some((line) => /^warn escrow accesses not checked .*EHUB_UNAVAILABLE/.test(line)), logger.lines.join('\n'));
});
