/**
 * `npm run demo`: the whole loop on one machine with no hardware and nothing from the internet.
 * It starts the reference hub and the PVE API simulator, makes an operator key and the box's trust
 * store, enrolls the example home box, signs and publishes its host tier, runs one agent cycle
 * against the simulated host, and shows what the host holds and what the hub was told. Every step
 * is a real `felhom` command, printed before it runs, so a newcomer can repeat it by hand.
 *
 * A demo, not a production component: the simulated host is docs/pve-simulator.md. The agent's
 * `up` needs the host tier's provider plugins (`npm run engine:install`); without them the cycle
 * stops before the engine with EPLUGIN_MISSING, and the hub's report says so.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { main } from '../../cli/main.js';
import { findProjectRoot } from '../engine/locate.js';
import { PveApiClient } from '../agent/pve-api-client.js';
import { simControl } from './proxmox/control-client.js';
import { findSharedSchema } from './proxmox/schema.js';

const BOX = 'hb-0001';
const OPERATOR_TOKEN = 'demo-operator-token';
const PASSPHRASE = 'demo passphrase, not for real keys';

interface Running {
  readonly output: () => string;
  readonly stop: () => Promise<number>;
}

function schemaFile(root: string): string {
  const found = findSharedSchema(root);
  if (!found) throw new Error("PVE's API schema (apidata.js) not found: put shared/pve-api/apidata.js beside the repository or set FELHOM_PVE_SCHEMA");
  return found;
}

/** Where the demo writes; the test captures it. */
let write: (text: string) => void = (text) => void process.stdout.write(text);
const log = (line: string): void => write(`${line}\n`);

function show(args: readonly string[]): void {
  log(`\n$ felhom ${args.map((arg) => (/[\s"'$]/.test(arg) ? JSON.stringify(arg) : arg)).join(' ')}`);
}

/** Runs a `felhom` command in this process and prints its output; throws unless it exits as expected. */
async function felhom(args: readonly string[], env: NodeJS.ProcessEnv, expect: readonly number[] = [0]): Promise<string> {
  show(args);
  let stdout = '';
  const code = await main([...args], {
    streams: { stdout: { write: (chunk: string) => ((stdout += chunk), write(chunk)) }, stderr: { write: (chunk: string) => write(chunk) } },
    env: { ...process.env, ...env },
    cwd: process.cwd(),
    stopSignal: new AbortController().signal,
  });
  if (!expect.includes(code)) throw new Error(`felhom ${args[0]} ${args[1] ?? ''} exited ${code}`);
  return stdout;
}

/** Starts a long-running `felhom` command (hub serve, sim proxmox) and waits for its JSON line. */
async function serve(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Running & { json: Record<string, string> }> {
  show(args);
  let stdout = '';
  const controller = new AbortController();
  let onOutput = () => {};
  const exited = main([...args], {
    streams: { stdout: { write: (chunk: string) => ((stdout += chunk), onOutput()) }, stderr: { write: (chunk: string) => write(chunk) } },
    env: { ...process.env, ...env },
    cwd: process.cwd(),
    stopSignal: controller.signal,
  });
  const json = await new Promise<Record<string, string>>((resolve, reject) => {
    onOutput = () => {
      try {
        resolve(JSON.parse(stdout) as Record<string, string>);
      } catch {
        // not the whole JSON document yet
      }
    };
    void exited.then((code) => reject(new Error(`felhom ${args.slice(0, 2).join(' ')} exited ${code}`)));
  });
  log(Object.entries(json).filter(([key]) => key !== 'certificate').map(([key, value]) => `  ${key}: ${value}`).join('\n'));
  return { json, output: () => stdout, stop: async () => (controller.abort(), exited) };
}

export async function runDemo(output?: (text: string) => void): Promise<void> {
  if (output) write = output;
  const root = findProjectRoot();
  const work = await mkdtemp(join(tmpdir(), 'felhom-demo-'));
  const running: Running[] = [];
  log(`Felhom demo in ${work}: a hub, a simulated Proxmox host, an operator and one box agent.`);
  try {
    // 1. The simulated Proxmox host and the hub.
    const sim = await serve(['sim', 'proxmox', '--port', '0', '--schema', schemaFile(root), '--state', join(work, 'pve.json'), '--token-file', join(work, 'pve-token'), '--task-delay', '200', '--json']);
    running.push(sim);
    const hub = await serve(['hub', 'serve', '--data', join(work, 'hub'), '--port', '0', '--json'], { FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN });
    running.push(hub);
    const hubEnv = { FELHOM_HUB_URL: hub.json.url!, FELHOM_HUB_OPERATOR_TOKEN: OPERATOR_TOKEN, FELHOM_KEY_PASSPHRASE: PASSPHRASE };
    const simToken = (await readFile(join(work, 'pve-token'), 'utf8')).trim();
    const target = { url: sim.json.url!, token: simToken };

    // The box's hardware, as the simulator models it: the USB disk with the UUID the spec names, the offsite PBS.
    const spec = parse(await readFile(join(root, 'examples', 'home-box.yaml'), 'utf8')) as { spec: { host: { endpoint?: string }; storage: { name: string; identity: unknown }[]; edge: { tunnel: { token?: unknown } } } };
    const usb = spec.spec.storage.find((storage) => storage.name === 'usb-media')!.identity as string;
    const pbs = spec.spec.storage.find((storage) => storage.name === 'offsite')!.identity as { fingerprint: string };
    log('\n# the simulated hardware: a USB disk at /mnt/felhom/usb-media, the offsite PBS');
    await simControl(target, 'PUT', '/_sim/media', { key: 'dir:/mnt/felhom/usb-media', identity: usb });
    await simControl(target, 'PUT', '/_sim/media', { key: 'pbs:pbs.felhom.hu/customers/customers/c-1042', identity: pbs.fingerprint });

    // 2. The operator's key and the box's trust store.
    await felhom(['keys', 'generate', '--name', 'Demo Operator', '--email', 'operator@example.org', '--out', join(work, 'operator')], hubEnv);
    const publicKey = join(work, 'operator', 'demo-operator.pub.asc');
    const privateKey = join(work, 'operator', 'demo-operator.key.asc');
    await felhom(['trust', 'init', '--key', existsSync(publicKey) ? publicKey : await firstFile(join(work, 'operator'), '.pub.asc'), '--out', join(work, 'trust.json')], hubEnv);

    // 3. Enrolment: the hub issues the box's API key; the box keeps it and its Proxmox token.
    const enrolled = JSON.parse(await felhom(['hub', 'enroll', '--box', BOX, '--json'], hubEnv)) as { apiKey: string };
    const state = join(work, 'agent');
    await mkdir(join(state, 'keys'), { recursive: true, mode: 0o700 });
    await mkdir(join(state, 'secrets'), { recursive: true, mode: 0o700 });
    await writeFile(join(state, 'keys', 'hub-api-key'), `${enrolled.apiKey}\n`, { mode: 0o600 });
    await writeFile(join(state, 'secrets', 'proxmox-api-token'), `${simToken}\n`, { mode: 0o600 });
    await writeFile(join(state, 'secrets', 'pbs-token'), 'demo-pbs-token\n', { mode: 0o600 });
    await writeFile(join(state, 'secrets', 'pbs-encryption-key'), 'demo-pbs-encryption-key\n', { mode: 0o600 });
    log(`\n# the box's state dir ${state}: its hub API key and its Proxmox API token (secrets/, mode 0600)`);

    // 4. The operator signs the example box's host tier and publishes it.
    spec.spec.host.endpoint = `${sim.json.url}/`;
    // The host cloudflared would install a systemd unit on this machine: not in a demo.
    delete spec.spec.edge.tunnel.token;
    const specFile = join(work, 'home-box.yaml');
    await writeFile(specFile, stringify(spec));
    const envelope = join(work, 'home-box.host.1.envelope.json');
    await felhom(['sign', specFile, '--key', existsSync(privateKey) ? privateKey : await firstFile(join(work, 'operator'), '.key.asc'), '--box', BOX, '--tier', 'host', '--serial', '1', '--out', envelope], hubEnv);
    await felhom(['publish', envelope], hubEnv);

    // 5. The agent's cycle against the simulated host.
    const agentEnv = { ...hubEnv, FELHOM_PROXMOX_API: sim.json.url!, FELHOM_PROXMOX_NODE: 'pve', FELHOM_PROXMOX_SIMULATED: '1' };
    const agentArgs = ['--box', BOX, '--tier', 'host', '--state', state, '--trust', join(work, 'trust.json')];
    await felhom(['agent', 'once', ...agentArgs], agentEnv, [0, 1, 3]);

    // 6. What the simulated host now holds, and what the hub was told.
    const api = new PveApiClient({ endpoint: sim.json.url!, token: simToken, insecure: true });
    const storages = await api.get<{ storage: string; type: string }[]>('/storage');
    const guests = await api.get<{ vmid: number; name: string; status: string }[]>('/nodes/pve/lxc');
    const jobs = await api.get<{ id: string; storage: string; schedule: string }[]>('/cluster/backup');
    log('\n# the simulated Proxmox host now holds');
    log(`  storages: ${storages.map((storage) => `${storage.storage} (${storage.type})`).join(', ')}`);
    log(`  guests: ${guests.map((guest) => `${guest.vmid} ${guest.name} ${guest.status}`).join(', ') || 'none'}`);
    log(`  backup jobs: ${jobs.map((job) => `${job.id} → ${job.storage} at ${job.schedule}`).join(', ') || 'none'}`);
    await felhom(['hub', 'reports', '--box', BOX], hubEnv);
    log(`\nDone. Everything is in ${work} (removed on exit unless FELHOM_DEMO_KEEP=1).`);
  } finally {
    for (const service of running.reverse()) await service.stop();
    if (process.env.FELHOM_DEMO_KEEP !== '1') await rm(work, { recursive: true, force: true });
  }
}

async function firstFile(dir: string, suffix: string): Promise<string> {
  const { readdir } = await import('node:fs/promises');
  const found = (await readdir(dir)).find((name) => name.endsWith(suffix));
  if (!found) throw new Error(`no ${suffix} file in ${dir}`);
  return join(dir, found);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runDemo().catch((error: unknown) => {
    process.stderr.write(`demo failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });
}
