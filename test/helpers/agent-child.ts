/**
 * A box agent in a child process, for the kill -9 tests. argv[2] is JSON:
 * { stateDir, trustPath, hubUrl, outputDir, pauseAt? }. It runs one cycle with the real engine
 * and the dynamic-provider test program. With `pauseAt` (a step name, or `engine` for "while the
 * program is registering resources") it prints `at <step>` and hangs there, for the parent to
 * SIGKILL its process group. Without it, it prints the cycle result as JSON and exits.
 */
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import { openAgent } from '../../runner/agent/open.js';
import { EngineRunner } from '../../runner/engine/run.js';
import { testProgramFactory } from './agent-program.js';
import { BOX } from './agent-fixture.js';

interface ChildConfig {
  stateDir: string;
  trustPath: string;
  hubUrl: string;
  outputDir: string;
  pauseAt?: string;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const hang = (step: string) => {
  process.stdout.write(`at ${step}\n`);
  return new Promise<never>(() => {});
};
const realFactory = testProgramFactory(config.outputDir);
const agent = await openAgent({
  box: BOX,
  tier: 'host',
  stateDir: config.stateDir,
  trustPath: config.trustPath,
  hubUrl: config.hubUrl,
  engine: new EngineRunner(),
  hubTimeoutMs: 10_000,
  programFor: (tier, box, env) => {
    const program = realFactory(tier, box, env);
    const paused: PulumiFn = async () => {
      const outputs = await program();
      // The resources are registered: the engine is creating them now. Killing here leaves
      // the engine's lock and pending operations behind.
      if (config.pauseAt === 'engine') setTimeout(() => void hang('engine'), 50);
      return outputs;
    };
    return paused;
  },
  beforeStep: async (step, item) => {
    if (step === config.pauseAt && (item || step === 'fetch')) await hang(step);
  },
});
const result = await agent.cycle();
await agent.close();
process.stdout.write(`${JSON.stringify(result)}\n`);
