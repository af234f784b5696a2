// A box's report of a failed engine run carries the engine's first error lines, with the
// agent's secrets masked, and tells replacements from updates.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { engineSummary } from '../../../runner/agent/agent.js';
import { agentWorld, boxSpec, BOX } from '../../helpers/agent-fixture.js';
import { FailingDisk } from '../../helpers/agent-program.js';

t.test('a failed up reports the engine error lines, secrets masked', async (t) => {
  const world = await agentWorld(t);
  await world.publish({ serial: 1, body: boxSpec() as never });
  let passphrase = '';
  const agent = await world.agent({
    programFor: () => async () => {
      new FailingDisk('rootfs-disk', `storage local-lvm is full (stack passphrase ${passphrase})`);
    },
  });
  passphrase = (await readFile(join(world.stateDir, 'keys', 'stack-passphrase'), 'utf8')).trim();
  const result = await agent.cycle();
  t.match(result, { items: [{ outcome: 'failed', reason: { code: 'EENGINE_RUN' } }] });
  const [report] = await world.hub.operator.listReports({ box: BOX });
  t.match(report, { outcome: 'failed', errors: [/^error: rootfs-disk \(.*\): .*storage local-lvm is full \(stack passphrase \[secret\]\)/] });
  t.notMatch(JSON.stringify(report), passphrase, 'the passphrase never reaches the hub');
});

t.test('the report counts replacements apart from updates', async (t) => {
  t.same(engineSummary({ create: 1, update: 2, replace: 3, delete: 4, same: 5 }), { created: 1, updated: 2, replaced: 3, deleted: 4, same: 5 });
});
