/**
 * `felhom custody recover --state <dir> --box <id> --hub <url>`: disaster recovery on a replacement
 * box (docs/architecture.md#restore-mode). The box, enrolled again under its identity, fetches its escrow and the customer
 * enters the recovery code here; a wrong code is refused and counted in the audit log. After it,
 * the box holds its PBS key again and the restore path can read the offsite backups.
 */
import type { Command } from 'commander';
import { recoverFromEscrow } from '../../runner/custody/custody.js';
import type { CommandModule } from '../command.js';
import { CliError, ExitCode } from '../errors.js';
import { boxCustodyContext, boxOptions, readRecoveryCode } from './custody-io.js';

const keyRecover: CommandModule = {
  description: "recover the box's PBS key from the hub's escrow with the customer's recovery code",
  configure(command: Command) {
    boxOptions(command)
      .option('--storage-secret <name>', "also write the passphrase-less key as <state>/secrets/<name> for the PBS storage")
      .option('--json', 'print the fingerprint and custody as JSON');
  },
  async run(context, _args, options) {
    const ctx = await boxCustodyContext(context, options);
    if (!ctx.hub) throw new CliError('EUSAGE', 'which hub? pass --hub <url> or set FELHOM_HUB_URL', { kind: 'usage' });
    const code = await readRecoveryCode(context, `the recovery code of box ${ctx.box}`);
    const recovered = await recoverFromEscrow(ctx, code, typeof options.storageSecret === 'string' ? { storageSecret: options.storageSecret } : {});
    if (options.json) context.out.json({ box: ctx.box, fingerprint: recovered.fingerprint, custody: recovered.custody });
    else context.out.line(`PBS key ${recovered.fingerprint} of box ${ctx.box} recovered (custody ${recovered.custody})`);
    return ExitCode.ok;
  },
};

export default keyRecover;
