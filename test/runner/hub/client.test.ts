import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { HubAuthError, HubClient, HubError, HubProtocolError, HubRequestError, HubUnavailableError } from '../../../runner/hub/client.js';
import { startTestHub } from '../../helpers/hub.js';
import { describeFailure } from '../../../cli/errors.js';

/** A server that answers every request with `listener`, for answers a real hub never gives. */
async function fakeServer(t: Test, listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test('a hub that is not listening is HubUnavailableError (waiting)', async (t) => {
  // Find a closed port: start, note the port, stop.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const client = new HubClient({ url: `http://127.0.0.1:${closedPort}`, token: 'k' });
  const error = await client.fetchSpec('box-1', 'host').catch((e: unknown) => e);
  t.type(error, HubUnavailableError);
  t.type(error, HubError);
  t.match(error, { code: 'EHUB_UNAVAILABLE', kind: 'waiting' });
  t.equal(describeFailure(error).exitCode, 3);
});

t.test('a hub that does not answer in time is HubUnavailableError naming the timeout', async (t) => {
  const url = await fakeServer(t, () => undefined /* never answers */);
  const client = new HubClient({ url, token: 'k', timeoutMs: 200 });
  await t.rejects(client.health(), { name: 'HubUnavailableError', message: /timed out/ });
});

t.test('5xx and 429 answers are HubUnavailableError carrying the status', async (t) => {
  let status = 500;
  const url = await fakeServer(t, (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'EINTERNAL', message: 'disk full' } }));
  });
  const client = new HubClient({ url, token: 'k' });
  await t.rejects(client.health(), { name: 'HubUnavailableError', status: 500, message: /500 EINTERNAL .*disk full/ });
  status = 429;
  await t.rejects(client.health(), { name: 'HubUnavailableError', status: 429 });
});

t.test('garbage answers are HubProtocolError (waiting, recorded)', async (t) => {
  let answer: (res: import('node:http').ServerResponse) => void = (res) => res.end('<html>proxy error</html>');
  const url = await fakeServer(t, (_req, res) => answer(res));
  const client = new HubClient({ url, token: 'k' });
  await t.rejects(client.health(), { name: 'HubProtocolError', code: 'EHUB_PROTOCOL', kind: 'waiting' });

  answer = (res) => res.end('{"ok": "maybe"}');
  await t.rejects(client.health(), HubProtocolError);

  answer = (res) => res.end('{"jobs": []}'); // no ETag
  await t.rejects(client.fetchJobs('box-1', 'host'), HubProtocolError);

  answer = (res) => {
    res.writeHead(302, { location: '/elsewhere' });
    res.end();
  };
  await t.rejects(new HubClient({ url, token: 'k', fetch: (input, init) => fetch(input, { ...init, redirect: 'manual' }) }).health(), { name: 'HubProtocolError', status: 302 });
});

t.test('401 and 403 are HubAuthError (stalled: a person must fix the key)', async (t) => {
  let status = 401;
  const url = await fakeServer(t, (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'EAUTH_INVALID', message: 'no' } }));
  });
  const client = new HubClient({ url, token: 'k' });
  await t.rejects(client.listBoxes(), { name: 'HubAuthError', code: 'EHUB_AUTH', kind: 'stalled', hubCode: 'EAUTH_INVALID', status: 401 });
  status = 403;
  const error = await client.listBoxes().catch((e: unknown) => e);
  t.type(error, HubAuthError);
  t.equal((error as HubAuthError).status, 403);
});

t.test('other refusals are HubRequestError with the hub reason code', async (t) => {
  const { operator } = await startTestHub(t);
  const error = await operator.enrollBox('UPPER').catch((e: unknown) => e);
  t.type(error, HubRequestError);
  t.match(error, { code: 'EBAD_REQUEST', status: 400, kind: 'stalled' });
  t.equal(describeFailure(error).exitCode, 1);
});

t.test('a 404 for a spec that is not ENOT_PUBLISHED is a refusal, not "none"', async (t) => {
  const url = await fakeServer(t, (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not here');
  });
  await t.rejects(new HubClient({ url, token: 'k' }).fetchSpec('box-1', 'host'), { name: 'HubRequestError', code: 'EHUB_REFUSED', status: 404 });
});

t.test('a caller abort passes its own reason through, not a hub error', async (t) => {
  const url = await fakeServer(t, () => undefined);
  const controller = new AbortController();
  const pending = new HubClient({ url, token: 'k' }).fetchSpec('box-1', 'host', { waitSeconds: 30, signal: controller.signal });
  controller.abort(new Error('agent stopping'));
  await t.rejects(pending, { message: 'agent stopping' });
});

t.test('a bad hub URL is refused up front', async (t) => {
  t.throws(() => new HubClient({ url: 'not a url' }), { code: 'EHUB_URL' });
  t.throws(() => new HubClient({ url: 'ftp://hub.example' }), { code: 'EHUB_URL' });
  t.equal(new HubClient({ url: 'http://hub.example:8787/' }).url, 'http://hub.example:8787');
});

t.test('the long-poll wait is sent as whole seconds and the token as a Bearer header', async (t) => {
  const seen: { url?: string; auth?: string; inm?: string }[] = [];
  const url = await fakeServer(t, (req, res) => {
    seen.push({ url: req.url!, auth: req.headers.authorization!, inm: req.headers['if-none-match']! });
    res.writeHead(304, { etag: '"abc"' });
    res.end();
  });
  const result = await new HubClient({ url, token: 'secret-key' }).fetchSpec('box-1', 'host', { etag: '"abc"', waitSeconds: 2.5 });
  t.same(result, { status: 'unchanged', etag: '"abc"' });
  t.same(seen, [{ url: '/v1/boxes/box-1/tiers/host/spec?wait=3', auth: 'Bearer secret-key', inm: '"abc"' }]);
});
