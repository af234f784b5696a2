/** The hub as operators run it: TLS, the plain-HTTP warning, the request log and /metrics. */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { HubClient } from '../../runner/hub/client.js';
import { formatRequestLog, isLoopbackHost, type RequestLogEntry } from '../../hub/request-log.js';
import { startHub } from '../../hub/server.js';
import { makeEnvelope, OPERATOR_TOKEN, startTestHub } from '../helpers/hub.js';

const run = promisify(execFile);

t.test('with --tls-cert and --tls-key the hub speaks HTTPS only', async (t) => {
  const dir = t.testdir();
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert]);
  const lines: string[] = [];
  const hub = await startHub({ dataDir: dir, operatorToken: OPERATOR_TOKEN, tls: { cert: await readFile(cert), key: await readFile(key) }, log: (line) => lines.push(line) });
  t.teardown(() => hub.close());
  t.match(hub.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = await readFile(cert);
  const body = await new Promise<string>((resolve, reject) => {
    request(`${hub.url}/v1/health`, { ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
  t.same(JSON.parse(body), { ok: true, protocol: 1 });
  await t.rejects(new HubClient({ url: hub.url.replace('https', 'http') }).health(), { code: 'EHUB_UNAVAILABLE' }, 'no plain HTTP on the TLS port');
  t.same(lines, [], 'no warning with TLS');
});

t.test('plain HTTP on a non-loopback address is served with a warning; on loopback without one', async (t) => {
  const lines: string[] = [];
  const open = await startHub({ dataDir: t.testdir(), operatorToken: OPERATOR_TOKEN, host: '0.0.0.0', log: (line) => lines.push(line) });
  t.teardown(() => open.close());
  t.match(lines, [/WARNING: serving plain HTTP on 0\.0\.0\.0, a non-loopback address.*--tls-cert/]);
  const quiet: string[] = [];
  const local = await startHub({ dataDir: t.testdir(), operatorToken: OPERATOR_TOKEN, log: (line) => quiet.push(line) });
  t.teardown(() => local.close());
  t.same(quiet, []);
  t.ok(isLoopbackHost('127.0.0.1') && isLoopbackHost('::1') && isLoopbackHost('localhost'));
  t.notOk(isLoopbackHost('10.0.0.1') || isLoopbackHost('::') || isLoopbackHost('0.0.0.0'));
});

t.test('one structured log line per request names who asked and never a token', async (t) => {
  const entries: RequestLogEntry[] = [];
  const dataDir = t.testdir();
  const hub = await startHub({ dataDir, operatorToken: OPERATOR_TOKEN, requestLog: (entry) => entries.push(entry) });
  t.teardown(() => hub.close());
  const operator = new HubClient({ url: hub.url, token: OPERATOR_TOKEN });
  const { apiKey } = await operator.enrollBox('box-1');
  const box = new HubClient({ url: hub.url, token: apiKey });
  await box.fetchSpec('box-1', 'host');
  await t.rejects(new HubClient({ url: hub.url, token: 'wrong' }).listBoxes());
  await fetch(`${hub.url}/v1/boxes?token=${apiKey}`);
  for (let i = 0; i < 50 && entries.length < 4; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  t.match(entries, [
    { method: 'POST', path: '/v1/boxes', status: 201, operator: 'admin' },
    { method: 'GET', path: '/v1/boxes/box-1/tiers/host/spec', status: 404, box: 'box-1' },
    { method: 'GET', path: '/v1/boxes', status: 401 },
    { method: 'GET', path: '/v1/boxes', status: 401 },
  ]);
  for (const entry of entries) t.type(entry.ms, 'number');
  const text = entries.map(formatRequestLog).join('\n');
  t.notMatch(text, apiKey, 'no API key, not even from a query string');
  t.notMatch(text, OPERATOR_TOKEN);
  t.match(JSON.parse(text.split('\n')[0]!), { msg: 'request', method: 'POST' });
});

t.test('/metrics speaks Prometheus text: boxes by state, polls, publishes, reports, wake latency', async (t) => {
  const { hub, operator, enroll } = await startTestHub(t);
  const box = await enroll('box-1');
  await enroll('box-2');
  const poll = box.fetchSpec('box-1', 'host', { waitSeconds: 20 });
  while (hub.parkedPolls() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  const spec = await operator.publish(makeEnvelope({ serial: 1 }));
  await poll;
  await box.postReport('box-1', { jobId: spec.payloadDigest, tier: 'host', outcome: 'failed', serial: 1, reason: { code: 'EX', message: 'x' } });
  const response = await fetch(`${hub.url}/metrics`);
  t.equal(response.status, 200);
  t.match(response.headers.get('content-type'), 'text/plain; version=0.0.4');
  const text = await response.text();
  t.match(text, /^# TYPE felhom_hub_boxes gauge$/m);
  t.match(text, /^felhom_hub_boxes\{state="failing"\} 1$/m);
  t.match(text, /^felhom_hub_boxes\{state="new"\} 1$/m);
  t.match(text, /^felhom_hub_polls_total\{kind="spec",status="200"\} 1$/m);
  t.match(text, /^felhom_hub_publishes_total\{type="spec"\} 1$/m);
  t.match(text, /^felhom_hub_reports_total\{outcome="failed"\} 1$/m);
  t.match(text, /^felhom_hub_longpoll_wake_seconds_count 1$/m);
  t.match(text, /^felhom_hub_longpoll_wake_seconds_bucket\{le="\+Inf"\} 1$/m);
  t.match(text, /^felhom_hub_longpolls_parked 0$/m);
  t.match(text, /^felhom_hub_requests_total\{code="201"\} \d+$/m);
  t.notMatch(text, 'box-1', 'no box ids in the metrics');
  // Every sample line is `name{labels} value`.
  for (const line of text.trim().split('\n')) if (!line.startsWith('#')) t.match(line, /^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+$/, line);
});

t.test('the hub needs a data directory or a database and token', async (t) => {
  await t.rejects(startHub({ operatorToken: OPERATOR_TOKEN }), { code: 'EUSAGE', message: /dataDir/ });
  await t.rejects(startHub({ database: 'postgres://x/y' }), { code: 'EUSAGE', message: /operatorToken/ });
  await t.rejects(startHub({ database: 'mysql://x/y', operatorToken: OPERATOR_TOKEN }), { code: 'EUSAGE', message: /postgres/ });
});
