// The real engine keeps a stack's state in Pulumi's PostgreSQL backend (`postgres://`, in the
// pinned CLI), on the same kind of server the hub uses: nothing lands in the file backend.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import t from 'tap';
import { locateEngine } from '../../runner/engine/locate.js';
import { createWorkspace } from '../../runner/engine/workspace.js';
import { LocalFile } from '../helpers/agent-program.js';
import { SlowFile } from '../helpers/slow-resource.js';
import { startPostgres } from '../helpers/postgres.js';

t.test('a stack brought up with a postgres:// backend keeps its state in PostgreSQL', async (t) => {
  const engine = await locateEngine();
  const postgres = await startPostgres(t);
  // Pulumi's driver (lib/pq) asks for TLS unless told otherwise; the test server speaks plain TCP on 127.0.0.1.
  const database = `${await postgres.createDatabase()}?sslmode=disable`;
  const root = await mkdtemp(join(tmpdir(), 'felhom-engine-pg-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const stateDir = join(root, 'state');
  const passphrase = randomBytes(18).toString('base64url');
  const filePath = join(root, 'edge-marker.txt');
  const { stack, backendUrl } = await createWorkspace({
    projectName: 'edge-state',
    stackName: 'hb-0001',
    program: async () => {
      const file = new LocalFile('marker', { path: filePath, content: 'edge\n' });
      return { path: file.id };
    },
    stateDir,
    backendUrl: database,
    passphrase,
    engine,
  });
  t.equal(backendUrl, database);
  const up = await stack.up();
  t.equal(up.summary.result, 'succeeded');

  const files = await readdir(stateDir, { recursive: true });
  t.notOk(files.some((name) => name.startsWith('.pulumi')), 'no file backend under the state dir');
  const db = new pg.Client({ connectionString: database });
  await db.connect();
  t.teardown(() => db.end());
  const tables = (await db.query<{ table_name: string }>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows.map((row) => row.table_name);
  t.ok(tables.length > 0, `Pulumi created its table(s): ${tables.join(', ')}`);
  // Pulumi's bucket table: one row per state file, keyed by its path, the content base64 in JSON.
  const rows = (await db.query<{ key: string; data: { data?: string } }>(`SELECT key, data FROM "${tables[0]}"`)).rows;
  const stackFile = rows.find((row) => row.key.endsWith('.pulumi/stacks/edge-state/hb-0001.json'));
  t.ok(stackFile, 'the stack checkpoint is a row in the database');
  const text = Buffer.from(stackFile?.data.data ?? '', 'base64').toString('utf8');
  t.ok(text.includes('edge-marker.txt'), 'the checkpoint holds the stack resources');
  t.notOk(text.includes(passphrase), 'and not the passphrase');

  // A second workspace on the same backend (another replica, a fresh disk) sees the same stack.
  const again = await createWorkspace({ projectName: 'edge-state', stackName: 'hb-0001', program: async () => ({}), stateDir: join(root, 'elsewhere'), backendUrl: database, passphrase, engine });
  t.match((await again.stack.exportStack()).deployment.resources ?? [], [{ type: 'pulumi:pulumi:Stack' }, {}, { id: filePath }]);
  const destroy = await stack.destroy();
  t.equal(destroy.summary.result, 'succeeded');
});

t.test('createWorkspace refuses a backend URL it does not know', async (t) => {
  await t.rejects(createWorkspace({ projectName: 'p', stackName: 's', program: async () => ({}), stateDir: t.testdir(), backendUrl: 'ftp://x', passphrase: 'p', engine: await locateEngine() }), /backendUrl must be/);
});

t.test('a killed engine leaves its lock row in the PostgreSQL backend; recover clears it, a live one waits', async (t) => {
  const { EngineRunner } = await import('../../runner/engine/run.js');
  const { engineLocks } = await import('../../runner/engine/locks.js');
  const { EngineBackendError, EngineBusyError } = await import('../../runner/engine/errors.js');
  const { writeFile } = await import('node:fs/promises');
  const engine = new EngineRunner();
  const postgres = await startPostgres(t);
  const backendUrl = `${await postgres.createDatabase()}?sslmode=disable`;
  const root = await mkdtemp(join(tmpdir(), 'felhom-engine-pg-lock-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const release = join(root, 'release');
  t.teardown(() => writeFile(release, ''));
  const target = { projectName: 'felhom', stackName: 'hb-0001.edge', stateDir: join(root, 'state'), backendUrl, passphrase: randomBytes(18).toString('base64url') };
  const program = (slow: boolean) => async () => {
    new LocalFile('marker', { path: join(root, 'marker.txt'), content: 'edge\n' });
    if (slow) new SlowFile('slow', { path: join(root, 'slow.txt'), release });
  };
  t.equal((await engine.run('up', program(false), target)).counts.create, 2, 'the stack and its file');

  // when an up is under way, then its lock is a row in the database, held by a live engine
  const running = engine.run('up', program(true), target).catch((error: unknown) => error);
  let locks = await engineLocks(target);
  for (let tries = 0; locks.length === 0 && tries < 600; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    locks = await engineLocks(target);
  }
  t.match(locks, [{ stale: false, pid: Number }], 'the running engine holds a lock row');
  await t.rejects(engine.recover(program(false), target), EngineBusyError, 'recover waits for a live engine');

  // when that engine is killed (kill -9), then its lock stays behind, stale
  process.kill(locks[0]!.pid!, 'SIGKILL');
  t.ok(await running, 'the killed up failed');
  await writeFile(release, '');
  t.match(await engineLocks(target), [{ stale: true, file: /^pulumi_state:.*\.pulumi\/locks\/organization\/felhom\/hb-0001\.edge\/.*\.json$/ }], 'the lock row outlives its engine');
  await t.rejects(engine.run('up', program(false), target), EngineBusyError, 'and the engine refuses to update the stack');

  const outcome = await engine.recover(program(false), target);
  t.same(outcome, { staleLocksRemoved: 1, refreshed: true }, 'recover removes the dead engine\'s lock and refreshes');
  t.same(await engineLocks(target), [], 'no lock row left');
  const after = await engine.run('up', program(false), target);
  t.equal(after.counts.create + after.counts.update, 0, 'the stack works again');

  const down = { ...target, backendUrl: 'postgres://felhom:hunter2-password@127.0.0.1:1/felhom?sslmode=disable' };
  const error = await engine.recover(program(false), down).catch((e: unknown) => e);
  t.type(error, EngineBackendError, 'an unreachable backend: retry later');
  t.match(error, { code: 'EENGINE_BACKEND', kind: 'waiting', message: /the state backend cannot be read: .*ECONNREFUSED/ });
  t.notOk(String((error as Error).message).includes('hunter2'), 'the password is not in the message');
  await engine.run('destroy', program(false), target);
});
