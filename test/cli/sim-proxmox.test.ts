import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { main } from '../../cli/main.js';
import { PveApiClient } from '../../runner/agent/pve-api-client.js';
import { felhom } from '../helpers/cli.js';
import { pveSchemaFile } from '../helpers/pve-sim.js';

async function serve(args: string[]) {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  let onOutput = () => {};
  const exited = main(['sim', 'proxmox', '--schema', pveSchemaFile(), '--port', '0', ...args], {
    streams: { stdout: { write: (chunk: string) => ((stdout += chunk), onOutput()) }, stderr: { write: (chunk: string) => (stderr += chunk) } },
    env: { PATH: process.env.PATH },
    cwd: process.cwd(),
    stopSignal: controller.signal,
  });
  await new Promise<void>((resolve, reject) => {
    onOutput = () => {
      if (/listening on|"url"/.test(stdout) && /\n$/.test(stdout) && (stdout.includes('state:') || stdout.trim().endsWith('}'))) resolve();
    };
    void exited.then((code) => reject(new Error(`sim proxmox exited ${code}: ${stderr}`)));
  });
  return { output: () => stdout, errors: () => stderr, stop: async () => (controller.abort(), exited) };
}

t.test('sim proxmox serves the PVE API with the token it prints, keeps its state file, and stops on the signal', async (t) => {
  const dir = t.testdir();
  const sim = await serve(['--state', join(dir, 'pve.json'), '--json', '--token', 'root@pam!felhom=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', '--log']);
  const printed = JSON.parse(sim.output()) as { url: string; token: string; certificate: string; node: string };
  t.equal(printed.token, 'root@pam!felhom=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
  t.equal(printed.node, 'pve');
  const api = new PveApiClient({ endpoint: printed.url, token: printed.token, insecure: true });
  t.match(await api.get('/version'), { release: '9.2' });
  t.match(sim.errors(), /GET \/api2\/json\/version 200/);
  t.notMatch(sim.errors(), /aaaaaaaa/, 'the request log never shows the token');
  t.equal(await sim.stop(), 0);
  t.ok(JSON.parse(await readFile(join(dir, 'pve.json'), 'utf8')).nodes);
});

t.test('sim proxmox writes the token to a file when asked, and prints where', async (t) => {
  const dir = t.testdir();
  const sim = await serve(['--token-file', join(dir, 'token'), '--node', 'pve2']);
  t.teardown(sim.stop);
  t.match(sim.output(), `API token: written to ${join(dir, 'token')}`);
  t.match(sim.output(), /test and demo tool, not Proxmox/);
  t.equal((await stat(join(dir, 'token'))).mode & 0o777, 0o600);
  t.match(await readFile(join(dir, 'token'), 'utf8'), /^root@pam!felhom=[0-9a-f-]{36}\n$/);
});

t.test('sim proxmox refuses bad options as usage errors, and a missing schema as a failure naming it', async (t) => {
  for (const [args, message] of [
    [['--port', 'x'], 'EUSAGE: --port'],
    [['--task-delay', 'soon'], 'EUSAGE: --task-delay'],
    [['--node', 'bad_node'], 'EUSAGE: --node'],
    [['--token', 'secret'], 'EUSAGE: --token'],
  ] as const) {
    const result = await felhom(['sim', 'proxmox', ...args]);
    t.equal(result.code, 2, args.join(' '));
    t.match(result.stderr, message);
  }
  const missing = await felhom(['sim', 'proxmox', '--schema', '/nonexistent/apidata.js', '--port', '0']);
  t.equal(missing.code, 3);
  t.match(missing.stderr, "ESIM_SCHEMA: cannot read PVE's API schema /nonexistent/apidata.js");
});
