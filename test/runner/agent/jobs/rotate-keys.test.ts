// The rotate-keys job: the trust store is replaced by the rotation's keys; a resumed rotation the
// store already holds is recognised and not applied twice.
import t from 'tap';
import { readFile, stat } from 'node:fs/promises';
import { loadTrustStore } from '../../../../runner/envelope/index.js';
import { rotateKeysJob } from '../../../../runner/agent/jobs/rotate-keys.js';
import { contextWorld } from '../../../helpers/agent-context.js';
import { testKeys } from '../../../helpers/keys.js';

t.test('a rotation to bob replaces the trust store', async (t) => {
  const w = await contextWorld(t);
  const [alice, bob] = await testKeys('alice', 'bob');
  const job = await w.job({ action: 'rotate-keys', threshold: 1, keys: [bob.publicArmored] }, { alsoSignedBy: ['bob'] });
  t.same(await rotateKeysJob(w.ctx, job), {});
  const trust = await loadTrustStore(w.world.trustPath);
  t.same(trust.keys.map((key) => key.fingerprint), [bob.fingerprint]);
  t.notOk(trust.keys.some((key) => key.fingerprint === alice.fingerprint), 'alice is no longer trusted');
});

t.test('a resumed rotation the store already holds is recognised: succeeded, the store not written again', async (t) => {
  const w = await contextWorld(t);
  const [bob] = await testKeys('bob');
  const job = await w.job({ action: 'rotate-keys', threshold: 1, keys: [bob.publicArmored] }, { alsoSignedBy: ['bob'] });
  await rotateKeysJob(w.ctx, job);
  const before = { text: await readFile(w.world.trustPath, 'utf8'), mtime: (await stat(w.world.trustPath)).mtimeMs };
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.same(await rotateKeysJob(w.ctx, { ...job, resumed: true }), {});
  t.equal((await stat(w.world.trustPath)).mtimeMs, before.mtime, 'the store was not written again');
  t.equal(await readFile(w.world.trustPath, 'utf8'), before.text);
});

t.test('a resumed rotation the store does not hold yet is applied', async (t) => {
  const w = await contextWorld(t);
  const [bob] = await testKeys('bob');
  const job = await w.job({ action: 'rotate-keys', threshold: 1, keys: [bob.publicArmored] }, { alsoSignedBy: ['bob'] });
  t.same(await rotateKeysJob(w.ctx, { ...job, resumed: true }), {});
  t.same((await loadTrustStore(w.world.trustPath)).keys.map((key) => key.fingerprint), [bob.fingerprint]);
});
