/**
 * `felhom custody recovery-sheet --state <dir> --box <id>`: prints the recovery sheet again. The box
 * does not keep the code, so the customer types it (or FELHOM_RECOVERY_CODE holds it); it is
 * checked against the box's keyfile before anything is printed.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { checkRecoveryCode, readCustodyState, recoverySheet } from '../../runner/custody/custody.js';
import type { CommandModule } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { readRecoveryCode, sheetOptions, sheetPbs } from './custody-io.js';

const keyRecoverySheet: CommandModule = {
  description: 'print the recovery sheet again, for the recovery code the customer enters',
  configure(command: Command) {
    sheetOptions(command.requiredOption('--state <dir>', 'the agent state directory').requiredOption('--box <id>', 'this box id'));
  },
  async run(context, _args, options) {
    const stateDir = resolve(context.cwd, options.state as string);
    const state = await readCustodyState(stateDir);
    if (!state || !state.fingerprint) throw new CliError('ENO_KEY', `no PBS key in ${stateDir}; create one first (felhom custody create)`);
    const code = await checkRecoveryCode(stateDir, await readRecoveryCode(context, `the recovery code of box ${options.box as string}`));
    const pbs = sheetPbs(options);
    context.out.line(recoverySheet({ box: options.box as string, recoveryCode: code, fingerprint: state.fingerprint, custody: state.custody, ...(pbs ? { pbs } : {}) }));
    return ExitCode.ok;
  },
};

export default keyRecoverySheet;
