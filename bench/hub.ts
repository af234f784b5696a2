/**
 * Reference hub benchmark (loopback only, bounded in time):
 *  1. 1,000 simulated boxes polling their spec conditionally (If-None-Match → 304) through a
 *     keep-alive agent: requests per second. Target: at least 2,000/s on two cores.
 *  2. Publish-to-wake latency of a long poll: from the operator's publish call to the box's
 *     200 answer. Target: under 1 s.
 * The load is driven from this process, so the figure includes the client's own cost.
 */
import canonicalize from 'canonicalize';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { HubClient } from '../runner/hub/client.js';
import { startHub } from '../hub/server.js';

const BOXES = 1000;
const LOAD_SECONDS = 5;
const CONCURRENCY = 64;
const WAKE_SAMPLES = 20;

function envelope(box: string, serial: number): string {
  const payload = { type: 'spec', box, tier: 'host', serial, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 86_400_000).toISOString(), body: { bench: true } };
  return JSON.stringify({ payload: canonicalize(payload), signatures: ['-----BEGIN PGP SIGNATURE-----\n\nbench\n-----END PGP SIGNATURE-----\n'] });
}

/** One GET over the keep-alive agent; resolves with the status. */
export function get(agent: Agent, port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

export async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

export const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export async function run(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'felhom-hub-bench-'));
  const hub = await startHub({ dataDir, operatorToken: 'bench-operator' });
  const operator = new HubClient({ url: hub.url, token: 'bench-operator' });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const boxes: { id: string; key: string; etag: string }[] = [];
    const setupStart = performance.now();
    await inBatches(
      Array.from({ length: BOXES }, (_, i) => `box-${i}`),
      100,
      async (id) => {
        const { apiKey } = await operator.enrollBox(id);
        const { digest } = await operator.publish(envelope(id, 1));
        boxes.push({ id, key: apiKey, etag: `"${digest}"` });
      },
    );
    console.log(`hub: enrolled ${BOXES} boxes and published a spec each in ${((performance.now() - setupStart) / 1000).toFixed(1)} s`);

    // 1. Conditional polling throughput.
    let requests = 0;
    let notModified = 0;
    let next = 0;
    const deadline = performance.now() + LOAD_SECONDS * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const box = boxes[next++ % boxes.length]!;
        const status = await get(agent, hub.port, `/v1/boxes/${box.id}/tiers/host/spec`, { authorization: `Bearer ${box.key}`, 'if-none-match': box.etag });
        requests++;
        if (status === 304) notModified++;
      }
    };
    const loadStart = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - loadStart) / 1000;
    console.log(`hub: ${BOXES} boxes polling conditionally: ${Math.round(requests / seconds)} requests/s over ${seconds.toFixed(1)} s (${requests} requests, ${notModified} answered 304; target >= 2000/s)`);
    if (notModified !== requests) console.log(`hub: WARNING ${requests - notModified} polls were not 304`);

    // 2. Publish-to-wake latency.
    const latencies: number[] = [];
    const box = boxes[0]!;
    const client = new HubClient({ url: hub.url, token: box.key });
    for (let serial = 2; serial < 2 + WAKE_SAMPLES; serial++) {
      const poll = client.fetchSpec(box.id, 'host', { etag: box.etag, waitSeconds: 30 });
      while (hub.parkedPolls() === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      const start = performance.now();
      const published = operator.publish(envelope(box.id, serial));
      const answer = await poll;
      latencies.push(performance.now() - start);
      box.etag = `"${(await published).digest}"`;
      if (answer.status !== 'changed') throw new Error(`long poll answered ${answer.status}, expected the new spec`);
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `hub: publish-to-long-poll-wake latency over ${WAKE_SAMPLES} publishes: p50 ${percentile(latencies, 50).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (target < 1000 ms)`,
    );
  } finally {
    agent.destroy();
    await hub.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
