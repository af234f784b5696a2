// A hostile hub (issue 14, item 4): a real HTTP server on 127.0.0.1 that answers what no honest
// hub would — huge bodies, a fresh ETag on every answer, floods of junk envelopes. Each test
// measures behaviour only (bytes the server got out, requests over a fake clock, entries and
// files written), never wall time.
import { readdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { formatEnvelope, signEnvelope, writeTrustStore } from '../../../runner/envelope/index.js';
import { runDaemon } from '../../../runner/agent/daemon.js';
import { openAgent } from '../../../runner/agent/open.js';
import { HubClient, HubProtocolError } from '../../../runner/hub/client.js';
import { verifyAuditLog } from '../../../runner/state/audit.js';
import { BOX, engineRunner, writeWorldFiles } from '../../helpers/agent-fixture.js';
import { testProgramFactory } from '../../helpers/agent-program.js';
import { testKey, trustOf } from '../../helpers/keys.js';

const MiB = 1024 * 1024;

interface HostileHub {
  readonly url: string;
  /** Requests per path (query stripped). */
  readonly requests: Map<string, number>;
}

async function hostileHub(t: Test, answer: (req: IncomingMessage, res: ServerResponse, path: string) => void): Promise<HostileHub> {
  const requests = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    req.resume();
    answer(req, res, path);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** Streams `total` bytes of JSON-ish junk, chunk by chunk as the socket drains; reports how many the kernel took. */
function streamJunk(res: ServerResponse, total: number, written: { bytes: number }): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const pump = () => {
    while (written.bytes < total && !res.destroyed) {
      written.bytes += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  res.on('close', () => res.removeAllListeners('drain'));
  pump();
}

t.test('a 64 MiB spec answer is cut off while it streams, not read whole before the size check', async (t) => {
  const written = { bytes: 0 };
  const hub = await hostileHub(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', etag: '"junk"' });
    streamJunk(res, 64 * MiB, written);
  });
  const client = new HubClient({ url: hub.url, token: 'k', timeoutMs: 60_000 });
  const error = await client.fetchSpec(BOX, 'host').then(() => undefined, (caught: unknown) => caught);
  t.type(error, HubProtocolError);
  t.equal((error as HubProtocolError).code, 'EHUB_PROTOCOL');
  t.equal((error as HubProtocolError).kind, 'waiting');
  t.match((error as Error).message, /larger than 1048576 bytes/);
  // What left the server is what the client read (at most 1 MiB) plus the sockets' buffers.
  t.ok(written.bytes < 24 * MiB, `the client stopped reading early: ${(written.bytes / MiB).toFixed(1)} MiB of 64 MiB left the server`);
});

t.test('a job list that declares 64 MiB is refused before its body is read', async (t) => {
  const written = { bytes: 0 };
  const hub = await hostileHub(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', etag: '"junk"', 'content-length': String(64 * MiB) });
    streamJunk(res, 64 * MiB, written);
  });
  const client = new HubClient({ url: hub.url, token: 'k', timeoutMs: 60_000 });
  await t.rejects(client.fetchJobs(BOX, 'host'), { name: 'HubProtocolError', code: 'EHUB_PROTOCOL', message: /larger than 8388608 bytes/ });
  t.ok(written.bytes < 24 * MiB, `${(written.bytes / MiB).toFixed(1)} MiB left the server`);
});

/** An enrolled box's state dir and trust store (alice), and an agent on `hubUrl` with a fake clock. */
async function boxOn(t: Test, hubUrl: string, clock: () => Date) {
  const root = t.testdir();
  const stateDir = join(root, 'state');
  await writeWorldFiles(stateDir, 'fhb_test-key');
  const trustPath = join(root, 'trust.json');
  await writeTrustStore(trustPath, await trustOf(['alice']));
  const agent = await openAgent({
    box: BOX,
    tier: 'host',
    stateDir,
    trustPath,
    hubUrl,
    engine: engineRunner(),
    programFor: testProgramFactory(join(root, 'output'), { invocations: 0 }),
    hubTimeoutMs: 10_000,
    clock,
  });
  t.teardown(() => agent.close());
  return { agent, stateDir };
}

async function junkEnvelope(serial: number): Promise<string> {
  const mallory = await testKey('mallory');
  const now = Date.now();
  return formatEnvelope(await signEnvelope({ type: 'job', box: BOX, tier: 'host', serial, body: { action: 'refresh' }, issuedAt: new Date(now - 60_000), expiresAt: new Date(now + 3600_000) }, [mallory.privateKey]));
}

t.test('a hub answering at once with a fresh ETag every time does not reset the backoff: requests over 10 fake seconds stay few', async (t) => {
  const junk = await junkEnvelope(3);
  let etag = 0;
  const hub = await hostileHub(t, (_req, res, path) => {
    if (path.endsWith('/spec')) {
      // The same refused envelope, under a new ETag each time: no honest hub does this.
      res.writeHead(200, { 'content-type': 'application/json', etag: `"fresh-${++etag}"` });
      res.end(junk);
    } else if (path.endsWith('/jobs')) {
      res.writeHead(200, { 'content-type': 'application/json', etag: `"jobs-${etag}"` });
      res.end('{"jobs":[]}');
    } else {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(path.endsWith('/audit') ? '{"accepted":0,"head":null}' : '{"id":"r"}');
    }
  });
  let now = Date.parse('2026-06-01T12:00:00Z');
  const start = now;
  const clock = () => new Date(now);
  const { agent } = await boxOn(t, hub.url, clock);
  const stop = new AbortController();
  let cycles = 0;
  await runDaemon(agent, {
    stopSignal: stop.signal,
    waitSeconds: 1,
    clock,
    backoff: { random: () => 0.999 },
    // The fake clock moves only by what the daemon sleeps.
    sleep: async (ms) => {
      now += ms;
      if (now - start >= 10_000) stop.abort();
    },
    onCycle: () => {
      cycles += 1;
      if (cycles >= 50) stop.abort(); // the old behaviour: never sleeps, so the fake clock never moves
    },
  });
  const specRequests = hub.requests.get(`/v1/boxes/${BOX}/tiers/host/spec`) ?? 0;
  t.ok(cycles < 50, `the daemon slept between cycles (${cycles} cycles)`);
  t.ok(specRequests <= 5, `${specRequests} spec requests in 10 fake seconds (backoff 1, 2, 4, 8 s)`);
});

t.test('a flood of junk envelopes costs the box a bounded number of audit entries and no archive files', async (t) => {
  const junk = await Promise.all(Array.from({ length: 40 }, (_, index) => junkEnvelope(index + 1)));
  let etag = 0;
  const reports: string[] = [];
  const hub = await hostileHub(t, (req, res, path) => {
    if (path.endsWith('/spec')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"ENOT_PUBLISHED","message":"none"}}');
    } else if (path.endsWith('/jobs')) {
      res.writeHead(200, { 'content-type': 'application/json', etag: `"flood-${++etag}"` });
      res.end(JSON.stringify({ jobs: junk.map((envelope, index) => ({ id: `${index}`.padStart(64, '0'), serial: index + 1, envelope })) }));
    } else {
      if (path.endsWith('/reports')) reports.push(path);
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(path.endsWith('/audit') ? '{"accepted":0,"head":null}' : '{"id":"r"}');
    }
    void req;
  });
  const { agent, stateDir } = await boxOn(t, hub.url, () => new Date());
  const first = await agent.cycle();
  t.equal(first.items.length, 16, 'one cycle takes at most 16 envelopes');
  t.ok(first.items.every((item) => item.outcome === 'rejected' && item.reason?.code === 'EUNKNOWNKEY'));
  await agent.cycle();
  await agent.cycle();
  const audit = await verifyAuditLog(join(stateDir, 'audit.jsonl'));
  t.ok(audit.ok);
  const refusals = audit.entries.filter((entry) => entry.outcome === 'rejected');
  t.ok(refusals.length <= 4, `${refusals.length} audit entries for 40 refusals`);
  t.match(refusals.at(-1), { action: 'audit.refusals-coalesced', reason: { code: 'EUNKNOWNKEY', message: /more envelope\(s\) refused with EUNKNOWNKEY/ } });
  t.equal(reports.length, 40, 'every refusal was still reported to the hub');
  t.same(await readdir(join(stateDir, 'envelopes')), [], 'no refused envelope stays in the archive');
});
