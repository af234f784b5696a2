/**
 * `felhom preview <spec> --tier <tier>`: validate the spec, then a real engine `preview` of that
 * tier's program (file backend under --state or a temporary folder, passphrase secrets), with
 * placeholder credentials of the shapes the real providers check (stacks/environment.ts), and
 * print the diff the way `pulumi preview --diff` does (runner/engine/diff.ts). Where a provider
 * plugin is missing it fails with their names and the install command (exit 3); where the engine
 * fails it prints the engine's diagnostics per resource (exit 3): it never pretends. `felhom
 * plan` is the offline, mocked alternative. With `--previous <spec>` it first warns, as `felhom
 * plan` does, about renames that would replace stateful resources (docs/box-spec.md#names-are-identities).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { engineProgress, styleFor } from '../progress.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { loadBoxSpec } from '../../stacks/spec/load.js';
import { stackName, TIERS, type Tier } from '../../stacks/spec/types.js';
import type { PlanComparison } from '../../stacks/plan.js';

const command: CommandModule = {
  description: "validate a box spec, then preview one tier on the real Pulumi engine",
  configure(command: Command) {
    command
      .argument('<spec>', 'box spec file')
      .requiredOption('--tier <tier>', `the tier to preview: ${TIERS.join(', ')}`)
      .option('--state <dir>', 'state directory whose engine/ backend and keys/stack-passphrase to use (default: a temporary one)')
      .option('--docker-host <url>', 'the Docker daemon the guest tier previews against (default: DOCKER_HOST, else unix:///var/run/docker.sock)')
      .option('--previous <spec>', 'the spec applied now: warn about renames that would replace stateful resources')
      .option('--json', 'print { tier, stack, counts, durationMs, steps, renames?, deleted? }');
  },
  async run(context, [file], options) {
    const tier = options.tier as Tier;
    if (!TIERS.includes(tier)) throw usageError(`--tier: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(options.tier)}`);
    const catalog = catalogLookup();
    const spec = await loadBoxSpec(resolve(context.cwd, file!), { catalog });
    const [{ EngineRunner }, { tierPlugins, realProgramFactory }, { resolveBox }, { loadGoldenTemplate }, { previewEnvironment }, stateDir] = await Promise.all([
      import('../../runner/engine/run.js'),
      import('../../runner/agent/program.js'),
      import('../../stacks/spec/resolve.js'),
      import('../../templates/lib/golden.js'),
      import('../../stacks/environment.js'),
      import('../../runner/agent/state-dir.js'),
    ]);
    const { renderDiff } = await import('../../runner/engine/diff.js');
    // Renames are found offline, on the mock runtime, before the engine runs: the warning comes
    // first, and a failing engine does not hide it.
    const previous = options.previous as string | undefined;
    let comparison: PlanComparison | undefined;
    if (previous) {
      const { planBox } = await import('../../stacks/plan.js');
      const { compareWithPrevious, renderRenames } = await import('./plan.js');
      comparison = await compareWithPrevious(resolve(context.cwd, previous), await planBox(spec, { tiers: [tier], catalog }), [tier], catalog);
      for (const line of renderRenames(comparison, previous)) context.out.warn(line);
    }
    const box = resolveBox(spec, catalog, loadGoldenTemplate().sizing);
    const temporary = options.state ? undefined : await mkdtemp(join(tmpdir(), 'felhom-preview-'));
    try {
      let backend: string;
      let passphrase: string;
      if (options.state) {
        const layout = await stateDir.prepareStateDir(resolve(context.cwd, options.state as string));
        backend = layout.engine;
        passphrase = await stateDir.loadOrCreateStackPassphrase(layout);
      } else {
        backend = temporary!;
        passphrase = randomBytes(24).toString('base64url');
      }
      const programFor = await realProgramFactory();
      // Placeholder credentials (still Pulumi secrets): the operator's preview holds no box credentials.
      const dockerHost = (options.dockerHost as string | undefined) ?? context.env.DOCKER_HOST;
      const program = programFor(tier, box, previewEnvironment(dockerHost ? { dockerHost } : {}));
      const stack = stackName(box.box, tier);
      const outcome = await new EngineRunner().run('preview', program, {
        projectName: 'felhom',
        stackName: stack,
        stateDir: backend,
        passphrase,
        requiredPlugins: await tierPlugins(tier),
      }, { onEvent: engineProgress((line) => context.out.warn(line), styleFor(context.out.terminal.stderr, context.env), { preview: true }) });
      if (options.json) {
        context.out.json({
          tier, stack, counts: outcome.counts, durationMs: outcome.durationMs, steps: outcome.steps,
          ...(comparison ? { renames: comparison.renames, deleted: comparison.deleted } : {}),
        });
      }
      else {
        const { create, update, replace, same } = outcome.counts;
        context.out.line(`Previewing ${tier} tier, stack ${stack}:`);
        for (const line of renderDiff(outcome.steps)) context.out.line(line);
        context.out.line(`${tier} tier, stack ${stack}: ${create} to create, ${update} to update, ${replace} to replace, ${outcome.counts.delete} to delete, ${same} unchanged`);
      }
      return 0;
    } finally {
      if (temporary) await rm(temporary, { recursive: true, force: true });
    }
  },
};
export default command;
