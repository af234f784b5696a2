import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../cli/main.js';
import { HubClient } from '../../runner/hub/client.js';

/** Starts `felhom hub serve` in-process; resolves with its URL once it printed it, plus a stop function. */
async function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  let onOutput = () => {};
  const exited = main(['hub', 'serve', ...args], {
    streams: {
      stdout: { write: (chunk: string) => ((stdout += chunk), onOutput()) },
      stderr: { write: (chunk: string) => (stderr += chunk) },
    },
    env: { PATH: process.env.PATH, ...env },
    cwd: process.cwd(),
    stopSignal: controller.signal,
  });
  const url = await new Promise<string>((resolve, reject) => {
    onOutput = () => {
      const match = /listening on (http:\/\/\S+)/.exec(stdout) ?? /"url": "(http:\/\/[^"]+)"/.exec(stdout);
      if (match) resolve(match[1]!);
    };
    void exited.then((code) => reject(new Error(`hub serve exited ${code}: ${stderr}`)));
  });
  return {
    url,
    output: () => stdout,
    stop: async () => {
      controller.abort();
      return exited;
    },
  };
}

t.test('hub serve prints its URL and the operator token file, serves, and stops on the signal', async (t) => {
  const data = t.testdir();
  const hub = await serve(['--data', data, '--port', '0']);
  const tokenFile = join(data, 'operator-token');
  t.match(hub.output(), `operator token: ${tokenFile}`);
  t.equal((await stat(tokenFile)).mode & 0o777, 0o600);
  const token = (await readFile(tokenFile, 'utf8')).trim();
  t.same(await new HubClient({ url: hub.url, token }).health(), { ok: true, protocol: 1 });
  t.same((await new HubClient({ url: hub.url, token }).listBoxes()).boxes, []);
  t.equal(await hub.stop(), 0);
  t.match(hub.output(), 'felhom hub stopped');
  await t.rejects(new HubClient({ url: hub.url, token }).health(), { name: 'HubUnavailableError' }, 'the port is closed after stopping');
});

t.test('hub serve takes the operator token from the environment and says so, without printing it', async (t) => {
  const hub = await serve(['--data', t.testdir(), '--port', '0', '--json'], { FELHOM_HUB_OPERATOR_TOKEN: 'env-token-123' });
  t.teardown(hub.stop);
  const printed = JSON.parse(hub.output()) as { url: string; operatorToken: string };
  t.equal(printed.operatorToken, '$FELHOM_HUB_OPERATOR_TOKEN');
  t.notMatch(hub.output(), 'env-token-123');
  t.ok(await new HubClient({ url: hub.url, token: 'env-token-123' }).listBoxes());
});

t.test('hub serve refuses a bad port as a usage error', async (t) => {
  let stderr = '';
  const code = await main(['hub', 'serve', '--data', t.testdir(), '--port', 'http'], {
    streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    stopSignal: new AbortController().signal,
  });
  t.equal(code, 2);
  t.match(stderr, 'EUSAGE: --port');
});

t.test('hub serve on a corrupt data file fails naming the file', async (t) => {
  const data = t.testdir({ 'hub.json': 'garbage' });
  let stderr = '';
  const code = await main(['hub', 'serve', '--data', data, '--port', '0'], {
    streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    stopSignal: new AbortController().signal,
  });
  t.equal(code, 3);
  t.match(stderr, `ESTORE_CORRUPT: state file ${join(data, 'hub.json')} is corrupt`);
});

t.test('hub serve --engine-mirror serves the folder to enrolled boxes; a folder without SHA256SUMS is a usage error', async (t) => {
  const dir = t.testdir({ data: {}, mirror: { SHA256SUMS: `${'b'.repeat(64)}  pulumi-v3.274.1-linux-x64.tar.gz\n` }, bare: {} });
  let stderr = '';
  const code = await main(['hub', 'serve', '--data', join(dir, 'data'), '--port', '0', '--engine-mirror', join(dir, 'bare')], {
    streams: { stdout: { write: () => true }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    stopSignal: new AbortController().signal,
  });
  t.equal(code, 2, 'a mirror without SHA256SUMS is refused');
  t.match(stderr, /EUSAGE: --engine-mirror: .* has no SHA256SUMS/);

  const hub = await serve(['--data', join(dir, 'data'), '--port', '0', '--engine-mirror', join(dir, 'mirror'), '--operator-token', 'op-token']);
  t.teardown(() => hub.stop());
  t.match(hub.output(), `engine mirror: ${join(dir, 'mirror')}`, 'the mirror is announced');
  const { apiKey } = await new HubClient({ url: hub.url, token: 'op-token' }).enrollBox('box-1');
  const response = await fetch(`${hub.url}/v1/boxes/box-1/engine/SHA256SUMS`, { headers: { authorization: `Bearer ${apiKey}` } });
  t.equal(response.status, 200);
  t.match(await response.text(), 'pulumi-v3.274.1-linux-x64.tar.gz');
});
