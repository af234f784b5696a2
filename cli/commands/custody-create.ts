/**
 * `felhom custody create --state <dir> --box <id> [--custody zero-knowledge-escrow]`: the box's PBS
 * encryption key under a fresh recovery code, escrowed as the custody says. Prints the recovery
 * sheet once: the code is stored nowhere, so this output is the customer's only copy.
 */
import type { Command } from 'commander';
import { createBoxKey, DEFAULT_CUSTODY, recoverySheet } from '../../runner/custody/custody.js';
import type { CommandModule } from '../command.js';
import { ExitCode } from '../errors.js';
import { boxCustodyContext, boxOptions, CUSTODIES, operatorKeyOption, parseCustody, readOperatorKeys, sheetOptions, sheetPbs } from './custody-io.js';

const keyCreate: CommandModule = {
  description: "create the box's PBS encryption key and print its recovery sheet once",
  configure(command: Command) {
    sheetOptions(operatorKeyOption(boxOptions(command)))
      .option('--custody <custody>', `who can open the key: ${CUSTODIES.join(', ')}`, DEFAULT_CUSTODY)
      .option('--storage-secret <name>', "also write the passphrase-less key as <state>/secrets/<name>, for the PBS storage's encryptionKey: { ref }")
      .option('--json', 'print the recovery code, fingerprint and custody as JSON');
  },
  async run(context, _args, options) {
    const custody = parseCustody(options.custody);
    const ctx = await boxCustodyContext(context, options);
    const operatorKeys = await readOperatorKeys(context, options.operatorKey as string[] | undefined);
    const created = await createBoxKey(ctx, {
      custody,
      ...(operatorKeys.length > 0 ? { operatorKeys } : {}),
      ...(typeof options.storageSecret === 'string' ? { storageSecret: options.storageSecret } : {}),
    });
    if (options.json) {
      context.out.json(created);
      return ExitCode.ok;
    }
    const pbs = sheetPbs(options);
    context.out.line(recoverySheet({ box: ctx.box, recoveryCode: created.recoveryCode, fingerprint: created.fingerprint, custody, ...(pbs ? { pbs } : {}) }));
    return ExitCode.ok;
  },
};

export default keyCreate;
