import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { ExitCode } from '../errors.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { loadBoxSpec } from '../../stacks/spec/load.js';
import { parseTiers } from './plan.js';

/**
 * `felhom policy check <spec>`: validate, plan every tier offline, run every policy rule.
 * Exit 1 on a mandatory violation or an unknown rule in spec.policy.advisory, 0 otherwise.
 */
const policyCheck: CommandModule = {
  description: 'validate a box spec, plan all its tiers offline and check every policy rule (exit 1 on a mandatory violation)',
  configure(command: Command) {
    command
      .argument('<spec>', 'box spec file')
      .option('--tier <tiers>', 'edge, host, guest, or a comma-separated list (default: all)')
      .option('--json', 'print the policy report as JSON');
  },
  async run({ out, cwd }, [file], options) {
    const tiers = parseTiers(options.tier);
    const catalog = catalogLookup();
    const spec = await loadBoxSpec(resolve(cwd, file!), { catalog });
    // Pulumi and the providers load only once the spec is known to be valid.
    const { planBox } = await import('../../stacks/plan.js');
    const { runPolicies, renderPolicyReport } = await import('../../policies/check.js');
    const report = runPolicies(await planBox(spec, { tiers, catalog }));
    if (options.json) out.json(report);
    else for (const line of renderPolicyReport(report)) out.line(line);
    return report.passed ? ExitCode.ok : ExitCode.invalid;
  },
};

export default policyCheck;
