import t from 'tap';
import { main } from '../../cli/main.js';
import { HubClient } from '../../runner/hub/client.js';
import { felhom } from '../helpers/cli.js';
import { startPostgres } from '../helpers/postgres.js';

t.test('hub serve --database keeps the data in PostgreSQL, prints the URL without the password, and logs requests on stderr', async (t) => {
  const postgres = await startPostgres(t);
  const url = (await postgres.createDatabase()).replace('felhom@', 'felhom:secret-pw@');
  let stdout = '';
  let stderr = '';
  let onOutput = () => {};
  const controller = new AbortController();
  const exited = main(['hub', 'serve', '--port', '0'], {
    streams: { stdout: { write: (chunk: string) => ((stdout += chunk), onOutput()) }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    env: { PATH: process.env.PATH, FELHOM_HUB_DATABASE_URL: url, FELHOM_HUB_OPERATOR_TOKEN: 'tok-123' },
    cwd: process.cwd(),
    stopSignal: controller.signal,
  });
  const hubUrl = await new Promise<string>((resolve, reject) => {
    onOutput = () => {
      const match = /data: .*\n/.test(stdout) && /listening on (\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    };
    void exited.then((code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  t.match(stdout, /data: postgres:\/\/felhom:\*\*\*@127\.0\.0\.1:\d+\/hub_/);
  t.notMatch(stdout + stderr, 'secret-pw');
  await new HubClient({ url: hubUrl, token: 'tok-123' }).enrollBox('box-1');
  controller.abort();
  t.equal(await exited, 0);
  t.match(stderr, /^\{"msg":"request","time":"[^"]+","method":"POST","path":"\/v1\/boxes","status":201,"ms":\d+,"operator":"admin"\}$/m);
  t.notMatch(stderr, 'tok-123');
});

t.test('hub serve refuses half a TLS pair, a non-postgres URL, and no place for data', async (t) => {
  const half = await felhom(['hub', 'serve', '--data', t.testdir(), '--tls-cert', 'c.pem']);
  t.equal(half.code, 2);
  t.match(half.stderr, '--tls-cert and --tls-key');
  const mysql = await felhom(['hub', 'serve', '--database', 'mysql://x/y']);
  t.match(mysql.stderr, '--database: expected a postgres://');
  const none = await felhom(['hub', 'serve'], { env: { FELHOM_HUB_DATABASE_URL: '' } });
  t.match(none.stderr, '--data: required unless --database');
  const noToken = await felhom(['hub', 'serve', '--database', 'postgres://x/y'], { env: { FELHOM_HUB_OPERATOR_TOKEN: '' } });
  t.match(noToken.stderr, 'FELHOM_HUB_OPERATOR_TOKEN');
  const missing = await felhom(['hub', 'serve', '--data', t.testdir(), '--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem']);
  t.equal(missing.code, 3);
  t.match(missing.stderr, 'ETLS_FILE: --tls-cert: cannot read /nonexistent/c.pem: ENOENT');
});

t.test('hub serve on an unreachable database fails naming it without its password', async (t) => {
  const result = await felhom(['hub', 'serve', '--port', '0', '--database', 'postgres://u:pw-hidden@127.0.0.1:1/db'], { env: { FELHOM_HUB_OPERATOR_TOKEN: 'x' } });
  t.equal(result.code, 3);
  t.match(result.stderr, /EHUB_DATABASE: cannot open the hub database at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
  t.notMatch(result.stderr, 'pw-hidden');
});
