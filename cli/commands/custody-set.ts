/**
 * `felhom custody set --state <dir> --box <id> --custody <custody>`: changes who can open the
 * box's key, on the box, with the customer present: every custody but customer-only needs the
 * recovery code (the new escrow is wrapped under it). The operator's way is the signed
 * `key-custody` job (docs/key-custody.md); either way the change is an audit entry.
 */
import type { Command } from 'commander';
import { changeCustody } from '../../runner/custody/custody.js';
import type { CommandModule } from '../command.js';
import { ExitCode } from '../errors.js';
import { boxCustodyContext, boxOptions, CUSTODIES, operatorKeyOption, parseCustody, readOperatorKeys, readRecoveryCode } from './custody-io.js';

const keyCustody: CommandModule = {
  description: "change the box key's custody (the customer enters the recovery code)",
  configure(command: Command) {
    operatorKeyOption(boxOptions(command))
      .requiredOption('--custody <custody>', `the new custody: ${CUSTODIES.join(', ')}`)
      .option('--json', 'print the custody state as JSON');
  },
  async run(context, _args, options) {
    const custody = parseCustody(options.custody);
    const ctx = await boxCustodyContext(context, options, 'customer');
    const operatorKeys = await readOperatorKeys(context, options.operatorKey as string[] | undefined);
    const recoveryCode = custody === 'customer-only' ? undefined : await readRecoveryCode(context, `the recovery code of box ${ctx.box}`);
    const state = await changeCustody(ctx, { custody, ...(recoveryCode ? { recoveryCode } : {}), ...(operatorKeys.length > 0 ? { operatorKeys } : {}) });
    if (options.json) context.out.json(state);
    else context.out.line(`key custody of box ${ctx.box} is now ${state.custody}${state.operatorKeys.length > 0 ? ` (operator keys ${state.operatorKeys.join(', ')})` : ''}`);
    return ExitCode.ok;
  },
};

export default keyCustody;
