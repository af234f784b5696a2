/**
 * Several hub replicas on one PostgreSQL: a publish through one wakes a long poll held by
 * another (LISTEN/NOTIFY), and a replica killed with SIGKILL in the middle of requests loses
 * and doubles nothing once the clients retry on the other replica.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import t, { type Test } from 'tap';
import { HubClient, HubRequestError } from '../../runner/hub/client.js';
import { startHub } from '../../hub/server.js';
import { auditChain, makeEnvelope, OPERATOR_TOKEN } from '../helpers/hub.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let postgres: TestPostgres;
t.before(async () => {
  postgres = await startPostgres(t);
});

async function replica(t: Test, database: string) {
  const hub = await startHub({ database, operatorToken: OPERATOR_TOKEN });
  t.teardown(() => hub.close());
  return { hub, operator: new HubClient({ url: hub.url, token: OPERATOR_TOKEN, timeoutMs: 10_000 }) };
}

const waitFor = async (condition: () => boolean, what: string) => {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
};

t.test('a publish through one replica wakes a long poll held by another', async (t) => {
  const database = await postgres.createDatabase();
  const a = await replica(t, database);
  const b = await replica(t, database);
  const { apiKey } = await a.operator.enrollBox('box-1');
  const boxAtB = new HubClient({ url: b.hub.url, token: apiKey, timeoutMs: 10_000 });

  const started = performance.now();
  const spec = boxAtB.fetchSpec('box-1', 'host', { waitSeconds: 30 });
  const jobs = boxAtB.fetchJobs('box-1', 'host', { waitSeconds: 30, etag: (await boxAtB.fetchJobs('box-1', 'host')).etag });
  await waitFor(() => b.hub.parkedPolls() === 2, 'both polls to park at replica B');
  const envelope = makeEnvelope({ serial: 1 });
  await a.operator.publish(envelope);
  const job = makeEnvelope({ type: 'job', serial: 2 });
  await a.operator.publish(job);
  const [woken, wokenJobs] = await Promise.all([spec, jobs]);
  const seconds = (performance.now() - started) / 1000;
  t.match(woken, { status: 'changed', envelope }, 'replica B served the spec published through A');
  t.equal(wokenJobs.status, 'changed');
  t.ok(seconds < 30, `answered long before the 30 s wait ran out (${seconds.toFixed(3)} s)`);
  t.equal(b.hub.metrics.wakeLatency.count >= 1, true, 'replica B measured the wake latency');
  t.equal(b.hub.parkedPolls(), 0);

  // The fleet view reads the shared database, whichever replica is asked.
  t.match(await b.operator.listBoxes(), { boxes: [{ box: 'box-1', state: 'drifting', tiers: [{ tier: 'host', specSerial: 1, pendingJobs: 1 }] }] });
});

t.test('a replica that lost its notification connection reconnects and re-reads its held polls', async (t) => {
  const database = await postgres.createDatabase();
  const a = await replica(t, database);
  const b = await replica(t, database);
  const { apiKey } = await a.operator.enrollBox('box-1');
  const boxAtB = new HubClient({ url: b.hub.url, token: apiKey, timeoutMs: 10_000 });
  const spec = boxAtB.fetchSpec('box-1', 'host', { waitSeconds: 30 });
  await waitFor(() => b.hub.parkedPolls() === 1, 'the poll to park');

  const admin = new pg.Client({ connectionString: database });
  await admin.connect();
  t.teardown(() => admin.end());
  // Cut every LISTEN connection, then publish while they are down.
  await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()");
  await a.operator.publish(makeEnvelope({ serial: 1 }));
  t.match(await spec, { status: 'changed' }, 'the poll was answered after the reconnect');
});

interface Child {
  readonly url: string;
  readonly process: ChildProcess;
}

async function spawnReplica(database: string): Promise<Child> {
  const script = fileURLToPath(new URL('../helpers/hub-replica.ts', import.meta.url));
  const child = spawn(process.execPath, [...process.execArgv, script, database], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`replica exited ${code}`)));
  });
  return { url, process: child };
}

t.test('a replica killed with SIGKILL mid-request loses and doubles no job, report or audit entry', async (t) => {
  const database = await postgres.createDatabase();
  const first = await spawnReplica(database);
  const second = await spawnReplica(database);
  t.teardown(() => {
    first.process.kill('SIGKILL');
    second.process.kill('SIGKILL');
  });
  const boxes = ['box-1', 'box-2', 'box-3', 'box-4'];
  const rounds = 20;
  const operatorAt = (url: string) => new HubClient({ url, token: OPERATOR_TOKEN, timeoutMs: 10_000 });
  const keys = new Map<string, string>();
  for (const box of boxes) keys.set(box, (await operatorAt(first.url).enrollBox(box)).apiKey);

  let target = first.url;
  let acknowledged = 0;
  let killed = false;
  const killAfter = 10 + Math.floor(Math.random() * 30);
  /** Sends through the current replica; when it is gone, once more through the other. */
  async function send<R>(call: (url: string) => Promise<R>, retried: (error: unknown) => R | undefined): Promise<R> {
    const url = target;
    try {
      const result = await call(url);
      if (++acknowledged === killAfter && !killed) {
        killed = true;
        // Kill while the other workers' requests are in flight.
        setTimeout(() => first.process.kill('SIGKILL'), Math.floor(Math.random() * 5));
      }
      return result;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EHUB_UNAVAILABLE') throw error;
      target = second.url;
      try {
        return await call(second.url);
      } catch (again) {
        const answer = retried(again);
        if (answer === undefined) throw again;
        return answer;
      }
    }
  }

  await Promise.all(
    boxes.map(async (box) => {
      const chain = auditChain(box, rounds);
      for (let serial = 1; serial <= rounds; serial++) {
        const job = makeEnvelope({ type: 'job', box, serial });
        // A publish retried after its commit finds the serial taken: it is there once.
        await send(
          async (url) => (await operatorAt(url).publish(job)).payloadDigest,
          (error) => (error instanceof HubRequestError && error.code === 'ESERIAL_NOT_INCREASING' ? 'already published' : undefined),
        );
        const jobs = await send((url) => new HubClient({ url, token: keys.get(box)!, timeoutMs: 10_000 }).fetchJobs(box, 'host'), () => undefined);
        const pending = jobs.status === 'changed' ? jobs.jobs : [];
        const mine = pending.find((entry) => entry.serial === serial);
        if (!mine) throw new Error(`job ${box}/${serial} is not pending`);
        await send((url) => new HubClient({ url, token: keys.get(box)!, timeoutMs: 10_000 }).postReport(box, { jobId: mine.id, tier: 'host', outcome: 'succeeded', serial }), () => undefined);
        await send((url) => new HubClient({ url, token: keys.get(box)!, timeoutMs: 10_000 }).postAudit(box, [chain[serial - 1]!]), () => undefined);
      }
    }),
  );
  t.ok(killed, 'the first replica was killed during the run');
  t.equal((await new Promise((resolve) => (first.process.exitCode !== null || first.process.signalCode !== null ? resolve(first.process.signalCode) : first.process.once('exit', (_c, s) => resolve(s))))) as string, 'SIGKILL');

  const db = new pg.Client({ connectionString: database });
  await db.connect();
  t.teardown(() => db.end());
  const count = async (sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
  t.equal(await count("SELECT count(*) AS n FROM hub_envelopes WHERE type = 'job'"), boxes.length * rounds, 'every job once');
  t.equal(await count("SELECT count(*) AS n FROM hub_activity WHERE action = 'publish'"), boxes.length * rounds, 'every publish recorded once');
  t.equal(await count('SELECT count(*) AS n FROM hub_reports'), boxes.length * rounds, 'every report once');
  t.equal(await count('SELECT count(*) AS n FROM hub_jobs WHERE finished_at IS NULL'), 0, 'no job left pending');
  t.equal(await count('SELECT count(*) AS n FROM hub_audit'), boxes.length * rounds, 'every audit entry once');
  const operator = operatorAt(second.url);
  for (const box of boxes) {
    t.same((await operator.listAudit(box)).map((entry) => entry.seq), Array.from({ length: rounds }, (_, i) => i + 1), `${box}: the audit chain is whole`);
  }
});
