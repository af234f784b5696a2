// The edge tier's agent keeps its Pulumi state in PostgreSQL (Pulumi's postgres:// backend, a
// real server) instead of <state>/engine: the applied spec's resources are rows in the database,
// nothing is in the file backend, and the URL's password never reaches a log line.
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { agentWorld, boxSpec } from '../../helpers/agent-fixture.js';
import { startPostgres } from '../../helpers/postgres.js';
import { jsonLogger, SecretRegistry } from '../../../runner/agent/logger.js';

t.test('an edge agent with a postgres:// state backend applies a spec with its state in the database', async (t) => {
  const postgres = await startPostgres(t);
  const database = await postgres.createDatabase();
  // The test server trusts every local connection; the password is there to be kept out of the logs.
  const backend = `${database.replace('postgres://felhom@', 'postgres://felhom:edge-state-pw-5150@')}?sslmode=disable&table=edge_state`;
  const world = await agentWorld(t);
  await world.publish({ tier: 'edge', serial: 1, body: boxSpec() as never });
  const lines: string[] = [];
  const secrets = new SecretRegistry();
  const agent = await world.agent({ tier: 'edge', stateBackend: backend, secrets, logger: jsonLogger({ stream: { write: (chunk) => lines.push(chunk) }, secrets, level: 'debug' }) });
  t.teardown(() => agent.close());

  const result = await agent.cycle();
  t.match(result, { status: 'done', items: [{ outcome: 'succeeded' }] }, 'applied');
  t.ok((await readdir(world.outputDir)).includes('guest-customer.json'), 'the engine ran the program');

  const db = new pg.Client({ connectionString: database });
  await db.connect();
  t.teardown(() => db.end());
  const keys = (await db.query<{ key: string }>('SELECT key FROM edge_state ORDER BY key')).rows.map((row) => row.key);
  const prefix = `${new URL(database).pathname.slice(1)}/`;
  t.ok(keys.includes(`${prefix}.pulumi/stacks/felhom/box-1.edge.json`), `the stack's checkpoint is a row of the table the URL names: ${keys.join(', ')}`);
  t.notOk(keys.some((key) => key.includes('.pulumi/locks/')), 'the engine released its lock');
  const engineFiles = await readdir(join(world.stateDir, 'engine'), { recursive: true }).catch(() => [] as string[]);
  t.notOk(engineFiles.some((name) => name.startsWith('.pulumi')), 'no file backend under <state>/engine');

  t.ok(lines.length > 0, 'the agent logged its cycle');
  t.notOk(lines.some((line) => line.includes('edge-state-pw-5150')), 'the backend password is in no log line');
  // the registry redacts it wherever a line would carry it
  const probe: string[] = [];
  jsonLogger({ stream: { write: (chunk) => probe.push(chunk) }, secrets }).warn('backend', { url: backend });
  t.notOk(probe.join('').includes('edge-state-pw-5150'), 'a line naming the URL is redacted');
});

t.test('an unreachable state backend makes the cycle wait; no report, log or audit entry carries its password', async (t) => {
  const backend = 'postgres://felhom:edge-state-pw-7070@127.0.0.1:1/felhom?sslmode=disable';
  const world = await agentWorld(t);
  await world.publish({ tier: 'edge', serial: 1, body: boxSpec() as never });
  const lines: string[] = [];
  const secrets = new SecretRegistry();
  const agent = await world.agent({ tier: 'edge', stateBackend: backend, secrets, logger: jsonLogger({ stream: { write: (chunk) => lines.push(chunk) }, secrets, level: 'debug' }) });
  t.teardown(() => agent.close());
  const result = await agent.cycle();
  t.match(result, { status: 'waiting', error: { code: 'EENGINE_BACKEND', kind: 'waiting' } }, 'the backend is down: waiting, to be retried');
  t.equal(result.items.filter((item) => item.outcome === 'succeeded').length, 0, 'nothing applied');
  const reports = await world.hub.operator.listReports({ box: 'box-1' });
  const audit = await readFile(join(world.stateDir, 'audit.jsonl'), 'utf8');
  for (const [what, text] of [['the report', JSON.stringify(reports)], ['the audit log', audit], ['the log', lines.join('')], ['the cycle result', JSON.stringify(result)]] as const) {
    t.notOk(text.includes('edge-state-pw-7070'), `no password in ${what}`);
  }
  t.match(result.error?.message, /the state backend cannot be opened: .*connection refused/, 'the cycle says what failed');
});
