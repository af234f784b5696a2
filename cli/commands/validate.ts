import type { Command } from 'commander';
import type { CommandModule } from '../command.js';
import { SpecError, loadBoxSpec } from '../../stacks/spec/load.js';
import { catalogLookup } from '../../stacks/spec/catalog.js';
import { describeFailure } from '../errors.js';
import { resolve } from 'node:path';

/** `felhom validate <spec>`: every problem with its path; exit 1 when there is any. */
const validate: CommandModule = {
  description: 'validate a box spec (YAML or JSON) and list every problem with its path',
  configure(command: Command) {
    command.argument('<spec>', 'box spec file').option('--json', 'print the result as JSON');
  },
  async run({ out, cwd }, [file], options) {
    const path = resolve(cwd, file!);
    try {
      const spec = await loadBoxSpec(path, { catalog: catalogLookup() });
      const summary = { valid: true, file, box: spec.metadata.box, customer: spec.metadata.customer, guests: spec.spec.guests.length, apps: spec.spec.apps?.length ?? 0, problems: [] };
      if (options.json) out.json(summary);
      else out.line(`${file}: valid box spec ${summary.box} (customer ${summary.customer}, ${summary.guests} guest${summary.guests === 1 ? '' : 's'}, ${summary.apps} app${summary.apps === 1 ? '' : 's'})`);
      return 0;
    } catch (error) {
      if (!(error instanceof SpecError) || !options.json) throw error;
      out.json({ valid: false, file, problems: error.problems });
      return describeFailure(error).exitCode;
    }
  },
};

export default validate;
