// The engine locks a killed engine leaves, read where the state lives: the file backend's lock
// files and the lock rows of Pulumi's PostgreSQL backend (a real server), each judged by its
// pid and host, and removed one by one.
import t from 'tap';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { engineLocks, postgresKeyPrefix, postgresStateTable } from '../../../runner/engine/locks.js';
import { startPostgres } from '../../helpers/postgres.js';

const DEAD = 2 ** 22 + 11;
const alive = (pid: number) => pid === process.pid;
const target = { projectName: 'felhom', stackName: 'box-1.edge' };

function lockBlob(content: unknown): string {
  return JSON.stringify({ data: Buffer.from(JSON.stringify(content)).toString('base64') });
}

t.test('file backend: only this stack\'s lock files, judged by pid and host, removed one by one', async (t) => {
  const stateDir = t.testdir();
  t.same(await engineLocks({ ...target, stateDir }), [], 'no lock folder: no lock');
  const mine = join(stateDir, '.pulumi', 'locks', 'organization', 'felhom', 'box-1.edge');
  const other = join(stateDir, '.pulumi', 'locks', 'organization', 'felhom', 'box-2.edge');
  await mkdir(mine, { recursive: true });
  await mkdir(other, { recursive: true });
  await writeFile(join(mine, 'dead.json'), JSON.stringify({ pid: DEAD, hostname: hostname() }));
  await writeFile(join(mine, 'elsewhere.json'), JSON.stringify({ pid: DEAD, hostname: 'another-host' }));
  await writeFile(join(mine, 'garbled.json'), '{not json');
  await writeFile(join(other, 'x.json'), JSON.stringify({ pid: DEAD, hostname: hostname() }));
  const locks = await engineLocks({ ...target, stateDir, backendUrl: `file://${stateDir}` }, alive);
  const byName = Object.fromEntries(locks.map((lock) => [lock.file.split('/').pop(), lock]));
  t.same(Object.keys(byName).sort(), ['dead.json', 'elsewhere.json', 'garbled.json'], 'the other stack\'s lock is not listed');
  t.match(byName['dead.json'], { pid: DEAD, stale: true }, 'a dead pid on this host is stale');
  t.match(byName['elsewhere.json'], { hostname: 'another-host', stale: false }, 'a pid on another host is not ours to judge');
  t.match(byName['garbled.json'], { pid: undefined, stale: false }, 'an unreadable lock is not stale');
  await byName['dead.json']!.remove();
  await byName['dead.json']!.remove();
  t.same((await readdir(mine)).sort(), ['elsewhere.json', 'garbled.json'], 'removed, twice without an error');
});

t.test('PostgreSQL backend: lock rows of the bucket table, judged and removed', async (t) => {
  const postgres = await startPostgres(t);
  const url = `${await postgres.createDatabase()}?sslmode=disable`;
  t.same(await engineLocks({ ...target, stateDir: t.testdir(), backendUrl: url }), [], 'no table yet: no lock');

  const db = new pg.Client({ connectionString: url.replace('?sslmode=disable', '') });
  await db.connect();
  t.teardown(() => db.end());
  await db.query('CREATE TABLE pulumi_state (key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())');
  // Pulumi keys every row under the URL's path: the database name, as a folder.
  const prefix = `${new URL(url).pathname.slice(1)}/`;
  t.equal(postgresKeyPrefix(url), prefix);
  const rows: [string, string][] = [
    [`${prefix}.pulumi/locks/organization/felhom/box-1.edge/dead.json`, lockBlob({ pid: DEAD, hostname: hostname() })],
    [`${prefix}.pulumi/locks/organization/felhom/box-1.edge/live.json`, lockBlob({ pid: process.pid, hostname: hostname() })],
    [`${prefix}.pulumi/locks/organization/felhom/box-2.edge/dead.json`, lockBlob({ pid: DEAD, hostname: hostname() })],
    [`other_db/.pulumi/locks/organization/felhom/box-1.edge/dead.json`, lockBlob({ pid: DEAD, hostname: hostname() })],
    [`${prefix}.pulumi/stacks/felhom/box-1.edge.json`, lockBlob({ checkpoint: true })],
  ];
  for (const [key, data] of rows) await db.query('INSERT INTO pulumi_state (key, data) VALUES ($1, $2)', [key, data]);

  const locks = await engineLocks({ ...target, stateDir: t.testdir(), backendUrl: url }, alive);
  t.same(locks.map((lock) => lock.file).sort(), [`pulumi_state:${rows[0]![0]}`, `pulumi_state:${rows[1]![0]}`], 'this stack\'s locks under this URL\'s path only');
  t.notOk(locks.some((lock) => lock.file.includes('sslmode') || lock.file.includes('postgres')), 'a lock is named by table and key, never by the URL');
  const dead = locks.find((lock) => lock.file.endsWith('dead.json'))!;
  t.match(dead, { pid: DEAD, stale: true });
  t.match(locks.find((lock) => lock.file.endsWith('live.json')), { pid: process.pid, stale: false });
  await dead.remove();
  const left = (await db.query<{ key: string }>('SELECT key FROM pulumi_state ORDER BY key')).rows.map((row) => row.key);
  t.same(left, rows.slice(1).map(([key]) => key).sort(), 'only the stale row is gone');

  // `table=` picks another table, as Pulumi's driver does
  await db.query('CREATE TABLE edge_state (key TEXT PRIMARY KEY, data JSON NOT NULL)');
  await db.query('INSERT INTO edge_state (key, data) VALUES ($1, $2)', [rows[0]![0], rows[0]![1]]);
  t.match(await engineLocks({ ...target, stateDir: t.testdir(), backendUrl: `${url}&table=edge_state` }, alive), [{ file: `edge_state:${rows[0]![0]}`, stale: true }]);
});

t.test('the table name is checked, the key prefix is the URL\'s path; an S3 backend lists no lock', async (t) => {
  t.equal(postgresKeyPrefix('postgres://u:p@h:5432/felhom?sslmode=disable'), 'felhom/');
  t.equal(postgresKeyPrefix('postgres://h'), '');
  t.equal(postgresKeyPrefix('postgres://h/a/b/'), 'a/b/');
  t.equal(postgresStateTable('postgres://h/db'), 'pulumi_state');
  t.equal(postgresStateTable('postgres://h/db?table=edge_state'), 'edge_state');
  t.throws(() => postgresStateTable('postgres://h/db?table=x%22%3Bdrop'), /table "x\\";drop" is not a plain SQL name/);
  t.same(await engineLocks({ ...target, stateDir: t.testdir(), backendUrl: 's3://bucket/prefix' }), []);
});

t.test('an unreachable PostgreSQL backend is an error, not an empty list', async (t) => {
  await t.rejects(engineLocks({ ...target, stateDir: t.testdir(), backendUrl: 'postgres://felhom:pw@127.0.0.1:1/felhom?sslmode=disable' }), /ECONNREFUSED/);
});
