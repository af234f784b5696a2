/**
 * The hub for a fleet: two `felhom hub serve` replicas on one PostgreSQL against one lowdb hub,
 * each hub its own process (so RSS is the hub's own), driven from this process over loopback.
 *
 *  1. Many simulated boxes hold long polls (half at each replica), while others poll
 *     conditionally (304): requests/s, and each hub process's RSS under that load.
 *  2. Publish→wake latency: a publish through replica A wakes a poll held at replica B (for
 *     lowdb: the same hub): p50/p95.
 *  3. Publish latency with history: 1,000 boxes' reports in the database, before and after.
 *     Target: flat on PostgreSQL, where lowdb rewrites a document that grows with the history.
 *
 * The issue asks for 10,000 boxes; on this shared 2-core machine the bench scales that down
 * to BOXES and the history to HISTORY_BOXES x REPORTS_PER_BOX reports (all printed) so the
 * whole comparison runs in about a minute. PostgreSQL runs with fsync on, like lowdb's writes.
 */
import canonicalize from 'canonicalize';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HubClient } from '../runner/hub/client.js';
import { get, inBatches, percentile } from './hub.js';
import { startLocalPostgres } from './postgres.js';

const BOXES = 1000;
const HISTORY_BOXES = 1000;
const REPORTS_PER_BOX = 2;
const LOAD_SECONDS = 4;
const CONCURRENCY = 48;
const WAKE_SAMPLES = 20;
const PUBLISH_SAMPLES = 20;
const TOKEN = 'bench-fleet-operator';

function envelope(box: string, serial: number, type: 'spec' | 'job' = 'spec'): string {
  const payload = { type, box, tier: 'host', serial, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString(), body: { bench: true, pad: 'x'.repeat(2000) } };
  return JSON.stringify({ payload: canonicalize(payload), signatures: ['-----BEGIN PGP SIGNATURE-----\n\nbench\n-----END PGP SIGNATURE-----\n'] });
}

interface HubProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
}

async function spawnHub(args: string[]): Promise<HubProcess> {
  const bin = new URL('../../bin/felhom.js', import.meta.url);
  const child = spawn(process.execPath, [bin.pathname, 'hub', 'serve', '--port', '0', '--no-request-log', '--json', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, FELHOM_HUB_OPERATOR_TOKEN: TOKEN },
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const match = /"url": "([^"]+)"/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`hub serve exited ${code}`)));
  });
  return { url, port: Number(new URL(url).port), child };
}

async function rssMb(child: ChildProcess): Promise<number> {
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

interface Figures {
  requestsPerSecond: number;
  rss: number[];
  wakeP50: number;
  wakeP95: number;
  publishBefore: number;
  publishAfter: number;
}

/** Runs the whole scenario against hubs `a` and `b` (the same hub for lowdb). */
async function scenario(name: string, a: HubProcess, b: HubProcess, hubs: HubProcess[]): Promise<Figures> {
  const operatorA = new HubClient({ url: a.url, token: TOKEN, timeoutMs: 60_000 });
  const boxes: { id: string; key: string; etag: string }[] = [];
  const setup = performance.now();
  await inBatches(
    Array.from({ length: BOXES }, (_, i) => `box-${i}`),
    100,
    async (id) => {
      const { apiKey } = await operatorA.enrollBox(id);
      const { digest } = await operatorA.publish(envelope(id, 1));
      boxes.push({ id, key: apiKey, etag: `"${digest}"` });
    },
  );
  console.log(`${name}: enrolled ${BOXES} boxes with a spec each in ${((performance.now() - setup) / 1000).toFixed(1)} s`);

  // Half the boxes hold a long poll, spread over the replicas; the rest poll conditionally.
  const holders = boxes.slice(0, BOXES / 2);
  const pollers = boxes.slice(BOXES / 2);
  const parkedAgent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const held = holders.map((box, i) => {
    const hub = i % 2 === 0 ? a : b;
    return get(parkedAgent, hub.port, `/v1/boxes/${box.id}/tiers/host/spec?wait=60`, { authorization: `Bearer ${box.key}`, 'if-none-match': box.etag }).catch(() => 0);
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let requests = 0;
  let next = 0;
  const deadline = performance.now() + LOAD_SECONDS * 1000;
  const worker = async (index: number) => {
    const hub = index % 2 === 0 ? a : b;
    while (performance.now() < deadline) {
      const box = pollers[next++ % pollers.length]!;
      await get(agent, hub.port, `/v1/boxes/${box.id}/tiers/host/spec`, { authorization: `Bearer ${box.key}`, 'if-none-match': box.etag });
      requests++;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => worker(i)));
  const requestsPerSecond = requests / ((performance.now() - start) / 1000);
  const rss = await Promise.all(hubs.map((hub) => rssMb(hub.child)));

  // Publish→wake: a publish through A wakes a poll held at B.
  const latencies: number[] = [];
  const client = (box: (typeof boxes)[number]) => new HubClient({ url: b.url, token: box.key, timeoutMs: 60_000 });
  for (let sample = 0; sample < WAKE_SAMPLES; sample++) {
    const box = pollers[sample]!;
    const poll = client(box).fetchSpec(box.id, 'host', { etag: box.etag, waitSeconds: 30 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const begin = performance.now();
    const published = await operatorA.publish(envelope(box.id, 2));
    const answer = await poll;
    latencies.push(performance.now() - begin);
    box.etag = `"${published.digest}"`;
    if (answer.status !== 'changed') throw new Error(`${name}: long poll answered ${answer.status}`);
  }
  latencies.sort((x, y) => x - y);

  // Publish latency, then with 1,000 boxes' report history, then again.
  const publishLatency = async (serial: number) => {
    const samples: number[] = [];
    for (let i = 0; i < PUBLISH_SAMPLES; i++) {
      const box = boxes[BOXES - 1 - i]!;
      const begin = performance.now();
      await operatorA.publish(envelope(box.id, serial, 'job'));
      samples.push(performance.now() - begin);
    }
    return percentile(samples.sort((x, y) => x - y), 50);
  };
  const publishBefore = await publishLatency(10);
  const history = performance.now();
  await inBatches(boxes.slice(0, HISTORY_BOXES), 100, async (box) => {
    const reporter = new HubClient({ url: a.url, token: box.key, timeoutMs: 60_000 });
    for (let r = 0; r < REPORTS_PER_BOX; r++) {
      await reporter.postReport(box.id, { jobId: `history-${r}`, tier: 'host', outcome: 'failed', reason: { code: 'EBENCH', message: `history ${r} ${'y'.repeat(800)}` } });
    }
  });
  console.log(`${name}: wrote ${HISTORY_BOXES * REPORTS_PER_BOX} reports of history in ${((performance.now() - history) / 1000).toFixed(1)} s`);
  const publishAfter = await publishLatency(11);

  parkedAgent.destroy();
  agent.destroy();
  await Promise.all(held);
  return { requestsPerSecond, rss, wakeP50: percentile(latencies, 50), wakeP95: percentile(latencies, 95), publishBefore, publishAfter };
}

async function stopHub(hub: HubProcess): Promise<void> {
  if (hub.child.exitCode !== null) return;
  const exited = new Promise((resolve) => hub.child.once('exit', resolve));
  hub.child.kill('SIGTERM');
  await exited;
}

export async function run(): Promise<void> {
  console.log(`hub-fleet: ${BOXES} simulated boxes (the issue's 10,000 scaled down for a shared 2-core machine), ${BOXES / 2} of them holding long polls, ${CONCURRENCY} polling conditionally for ${LOAD_SECONDS} s; history: ${HISTORY_BOXES} boxes x ${REPORTS_PER_BOX} reports`);
  const dataDir = await mkdtemp(join(tmpdir(), 'felhom-hub-fleet-bench-'));
  const lowdbHub = await spawnHub(['--data', dataDir]);
  let lowdb: Figures;
  try {
    lowdb = await scenario('lowdb', lowdbHub, lowdbHub, [lowdbHub]);
    console.log(`lowdb: data file ${((await stat(join(dataDir, 'hub.json'))).size / 1024 / 1024).toFixed(1)} MB`);
  } finally {
    await stopHub(lowdbHub);
    await rm(dataDir, { recursive: true, force: true });
  }

  // fsync on, as lowdb's writes are: the comparison is of durable writes.
  const postgres = await startLocalPostgres({ fsync: true });
  let pg: Figures;
  try {
    const url = await postgres.createDatabase('felhom_bench');
    const a = await spawnHub(['--database', url]);
    const b = await spawnHub(['--database', url]);
    try {
      pg = await scenario('postgres', a, b, [a, b]);
    } finally {
      await Promise.all([stopHub(a), stopHub(b)]);
    }
  } finally {
    await postgres.stop();
  }

  const row = (label: string, l: string, p: string) => console.log(`  ${label.padEnd(44)} ${l.padStart(14)} ${p.padStart(22)}`);
  console.log('hub-fleet: comparison');
  row('', 'one lowdb hub', 'two replicas on PG');
  row('conditional polls (requests/s)', String(Math.round(lowdb.requestsPerSecond)), String(Math.round(pg.requestsPerSecond)));
  row('publish→wake p50 (across replicas on PG)', ms(lowdb.wakeP50), ms(pg.wakeP50));
  row('publish→wake p95 (target < 1000 ms)', ms(lowdb.wakeP95), ms(pg.wakeP95));
  row('hub RSS under load (MB, per process)', lowdb.rss.map((v) => v.toFixed(0)).join(', '), pg.rss.map((v) => v.toFixed(0)).join(', '));
  row('publish p50, little history', ms(lowdb.publishBefore), ms(pg.publishBefore));
  row(`publish p50, ${HISTORY_BOXES} boxes' history (target: flat)`, ms(lowdb.publishAfter), ms(pg.publishAfter));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
