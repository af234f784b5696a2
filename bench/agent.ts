/**
 * Agent benchmark (real hub on loopback, real engine, a dynamic-provider program):
 *  1. The no-op cycle (spec unchanged, conditional fetch → 304): CPU time per cycle
 *     (process.cpuUsage, this process, which also serves the hub) and engine launches.
 *     Targets: under 10 ms, zero launches.
 *  2. The idle agent's RSS: a real `felhom agent run` process polling a box with nothing to do,
 *     read from /proc. Target: under 120 MB. (This process's own RSS after an engine run is
 *     printed too, for comparison: it also holds the hub and the loaded Pulumi SDK.)
 *  3. Publish-to-agent-start latency with long poll: from the operator's publish to the agent
 *     starting the apply step. Target: under 1 s.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import * as pulumi from '@pulumi/pulumi';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import { createTrustStore, formatEnvelope, generateKey, readPrivateKey, signEnvelope, writeTrustStore } from '../runner/envelope/index.js';
import { EngineRunner } from '../runner/engine/run.js';
import { HubClient } from '../runner/hub/client.js';
import { startHub } from '../hub/server.js';
import { openAgent } from '../runner/agent/open.js';
import type { ProgramFactory } from '../runner/agent/program.js';

const NOOP_CYCLES = 200;
const PASSPHRASE = 'bench passphrase';

const fileProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const fs = await import('node:fs/promises');
    await fs.writeFile(inputs.path, inputs.content);
    return { id: inputs.path, outs: inputs };
  },
  async delete(id) {
    const fs = await import('node:fs/promises');
    await fs.rm(id, { force: true });
  },
};

class BenchFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: { path: string; content: string }, opts: pulumi.CustomResourceOptions) {
    super(fileProvider, name, args, opts);
  }
}

export async function run(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'felhom-bench-agent-'));
  const hub = await startHub({ dataDir: join(root, 'hub'), operatorToken: 'bench-operator' });
  try {
    const operator = new HubClient({ url: hub.url, token: 'bench-operator' });
    const { apiKey } = await operator.enrollBox('box-1');
    const stateDir = join(root, 'state');
    await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
    await mkdir(join(stateDir, 'secrets'), { recursive: true, mode: 0o700 });
    await chmod(join(stateDir, 'keys'), 0o700);
    await writeFile(join(stateDir, 'keys', 'hub-api-key'), apiKey, { mode: 0o600 });
    for (const name of ['pbs-token', 'pbs-encryption-key', 'tunnel-token', 'proxmox-api-token']) await writeFile(join(stateDir, 'secrets', name), `bench-${name}-value`, { mode: 0o600 });
    const key = await generateKey({ name: 'bench', email: 'bench@example.org', passphrase: PASSPHRASE });
    const signingKey = await readPrivateKey(key.privateKey, PASSPHRASE);
    const trustPath = join(root, 'trust.json');
    await writeTrustStore(trustPath, await createTrustStore([key.publicKey]));
    // From source (bench/) or compiled (dist/bench/): the example is at the project root.
    const example = await readFile(new URL('../examples/home-box.yaml', import.meta.url), 'utf8').catch(() => readFile(new URL('../../examples/home-box.yaml', import.meta.url), 'utf8'));
    const spec = parse(example) as { metadata: { box: string } };
    spec.metadata.box = 'box-1';
    const publish = async (serial: number) =>
      operator.publish(formatEnvelope(await signEnvelope({ type: 'spec', box: 'box-1', tier: 'host', serial, body: spec as unknown as Record<string, unknown> }, signingKey)));

    let launches = 0;
    const outputDir = join(root, 'output');
    await mkdir(outputDir);
    const programFor: ProgramFactory = (_tier, box) => {
      const program: PulumiFn = async () => {
        launches += 1;
        for (const app of box.apps) new BenchFile( `app-${app.name}`, { path: join(outputDir, `${app.name}.json`), content: app.template }, {});
      };
      return program;
    };
    let applyStartedAt = 0;
    const agent = await openAgent({
      box: 'box-1', tier: 'host', stateDir, trustPath, hubUrl: hub.url, engine: new EngineRunner(), programFor,
      beforeStep: (step) => {
        if (step === 'apply' && applyStartedAt === 0) applyStartedAt = performance.now();
      },
    });
    try {
      await publish(1);
      await agent.cycle();

      // 1. the no-op cycle
      const launchesBefore = launches;
      for (let i = 0; i < 20; i++) await agent.cycle(); // warm-up
      const cpu = process.cpuUsage();
      const wall = performance.now();
      for (let i = 0; i < NOOP_CYCLES; i++) await agent.cycle();
      const used = process.cpuUsage(cpu);
      const cpuMs = (used.user + used.system) / 1000 / NOOP_CYCLES;
      console.log(`no-op cycle: ${cpuMs.toFixed(2)} ms CPU per cycle (target < 10 ms), ${((performance.now() - wall) / NOOP_CYCLES).toFixed(2)} ms wall, ${launches - launchesBefore} engine launches in ${NOOP_CYCLES + 20} cycles (target 0)`);

      // 2. idle RSS
      const idle = await idleAgentRss(root, hub.url, operator, trustPath);
      console.log(`idle agent process RSS: ${idle.toFixed(1)} MB (target < 120 MB); this bench process after engine runs, with the hub: ${(process.memoryUsage().rss / 1024 / 1024).toFixed(1)} MB`);

      // 3. publish-to-agent-start latency with long poll
      const samples: number[] = [];
      for (let serial = 2; serial <= 4; serial++) {
        applyStartedAt = 0;
        const cycle = agent.cycle({ waitSeconds: 30 });
        await new Promise((resolve) => setTimeout(resolve, 200)); // the long poll is parked
        const publishedAt = performance.now();
        await publish(serial);
        await cycle;
        samples.push(applyStartedAt - publishedAt);
      }
      samples.sort((a, b) => a - b);
      console.log(`publish → agent apply start (long poll): median ${samples[1]!.toFixed(1)} ms, max ${samples[2]!.toFixed(1)} ms (target < 1000 ms)`);
    } finally {
      await agent.close();
    }
  } finally {
    await hub.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Starts `felhom agent run` for a box with nothing published, lets it poll, and reads its RSS. */
async function idleAgentRss(root: string, hubUrl: string, operator: HubClient, trustPath: string): Promise<number> {
  const { spawn } = await import('node:child_process');
  const { apiKey } = await operator.enrollBox('box-idle');
  const stateDir = join(root, 'state-idle');
  await mkdir(join(stateDir, 'keys'), { recursive: true, mode: 0o700 });
  await chmod(join(stateDir, 'keys'), 0o700);
  await writeFile(join(stateDir, 'keys', 'hub-api-key'), apiKey, { mode: 0o600 });
  // From source (bench/) or compiled (dist/bench/): bin/felhom.js is at the project root.
  const bin = [new URL('../bin/felhom.js', import.meta.url), new URL('../../bin/felhom.js', import.meta.url)].find((url) => existsSync(url))!;
  const child = spawn(process.execPath, [bin.pathname, 'agent', 'run', '--hub', hubUrl, '--box', 'box-idle', '--tier', 'host', '--state', stateDir, '--trust', trustPath, '--wait', '1'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 8000)); // start-up plus several idle polls
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
