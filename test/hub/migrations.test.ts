/** The PostgreSQL hub's schema migrations: applied once, even by replicas starting together; a changed or newer history stops the hub. */
import pg from 'pg';
import t from 'tap';
import { MIGRATIONS } from '../../hub/migrations.js';
import { PostgresHubStore, redactDatabaseUrl } from '../../hub/postgres.js';
import { startPostgres } from '../helpers/postgres.js';

t.test('migrations run once at start, also when two replicas start together', async (t) => {
  const postgres = await startPostgres(t);
  const url = await postgres.createDatabase();
  const [a, b] = await Promise.all([PostgresHubStore.open(url), PostgresHubStore.open(url)]);
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  t.equal(await a.schemaVersion(), MIGRATIONS.at(-1)!.version);
  const c = await PostgresHubStore.open(url);
  await c.close();
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  t.teardown(() => db.end());
  t.equal((await db.query('SELECT * FROM hub_schema_migrations')).rowCount, MIGRATIONS.length, 'each migration recorded once');

  const original = (await db.query<{ checksum: string }>('SELECT checksum FROM hub_schema_migrations WHERE version = 1')).rows[0]!.checksum;
  await db.query("UPDATE hub_schema_migrations SET checksum = 'edited' WHERE version = 1");
  await t.rejects(PostgresHubStore.open(url), { code: 'EHUB_SCHEMA_CHANGED', message: /migration 1 \(initial\).*never edited/ });
  await db.query('UPDATE hub_schema_migrations SET checksum = $1 WHERE version = 1', [original]);
  await db.query("INSERT INTO hub_schema_migrations (version, name, checksum) VALUES (999, 'from-the-future', 'x')");
  await t.rejects(PostgresHubStore.open(url), { code: 'EHUB_SCHEMA_NEWER', message: /schema version 999/ });
});

t.test('the URL is shown without its password', async (t) => {
  t.equal(redactDatabaseUrl('postgres://hub:s3cret@db:5432/felhom'), 'postgres://hub:***@db:5432/felhom');
  t.equal(redactDatabaseUrl('postgres://db/felhom'), 'postgres://db/felhom');
  t.equal(redactDatabaseUrl('not a url'), 'postgres://(unparseable URL)');
});
