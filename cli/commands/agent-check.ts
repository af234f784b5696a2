/**
 * `felhom agent check`: the agent's preflight (runner/agent/preflight.ts). Lists every missing
 * secret, plugin and permission at once; exit 0 when the box is ready, 1 naming each problem.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { CommandModule } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { readInputFile } from './envelope-io.js';

const command: CommandModule = {
  description: 'check that this box has every secret, plugin and permission its spec needs (docs/agent.md)',
  configure(command: Command) {
    command
      .requiredOption('--box <id>', 'this box id')
      .requiredOption('--tier <tier>', `the tier: ${TIERS.join(', ')}`)
      .requiredOption('--state <dir>', 'the agent state directory')
      .requiredOption('--trust <store>', 'the box trust store')
      .option('--spec <file>', "a box spec (YAML or JSON) to check instead of the one the journal holds")
      .option('--json', 'print { ok, spec, problems } as JSON');
  },
  async run(context, _args, options) {
    if (!TIERS.includes(options.tier as Tier)) throw usageError(`--tier: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(options.tier)}`);
    const [{ preflight }, { EngineRunner }, { tierPlugins }, { parse }] = await Promise.all([
      import('../../runner/agent/preflight.js'),
      import('../../runner/engine/run.js'),
      import('../../runner/agent/program.js'),
      import('yaml'),
    ]);
    let spec: unknown;
    if (options.spec) {
      try {
        spec = parse(await readInputFile(context, options.spec as string, 'box spec'));
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError('EPARSE', `${options.spec}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
      }
    }
    const engine = new EngineRunner(context.env.FELHOM_ENGINE_HOME ? { engineHome: resolve(context.cwd, context.env.FELHOM_ENGINE_HOME) } : {});
    const result = await preflight({
      stateDir: resolve(context.cwd, options.state as string),
      trustPath: resolve(context.cwd, options.trust as string),
      box: options.box as string,
      tier: options.tier as Tier,
      ...(spec !== undefined ? { spec } : {}),
      env: context.env,
      engine: () => engine.engine(),
      requiredPlugins: tierPlugins,
    });
    const ok = result.problems.length === 0;
    if (options.json) context.out.json({ ok, spec: result.spec, problems: result.problems });
    else if (ok) context.out.line(`${options.box}/${options.tier} is ready (spec: ${result.spec})`);
    else {
      context.out.line(`${options.box}/${options.tier}: ${result.problems.length} problem(s) (spec: ${result.spec})`);
      for (const problem of result.problems) context.out.line(`  ${problem.code}  ${problem.subject}: ${problem.message}`);
    }
    return ok ? ExitCode.ok : ExitCode.invalid;
  },
};
export default command;
