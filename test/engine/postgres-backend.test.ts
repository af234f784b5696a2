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
