/**
 * `felhom custody unwrap --escrow <blob.json> --out <keyfile>`: opens an escrow blob on any machine
 * and writes the PBS keyfile inside, which the stock `proxmox-backup-client` opens with the
 * recovery code. The customer enters the code; with operator-managed custody an operator may
 * instead give `--operator-key <private.asc>` (its passphrase from FELHOM_KEY_PASSPHRASE or a
 * prompt). `--hub` with `--operator-token` fetches the blob as an operator (recorded, and shown
 * to the customer) instead of reading a file.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { recoveryCodeFromOperatorKey, unwrapEscrow } from '../../runner/custody/escrow.js';
import { keyfileInfo } from '../../runner/custody/pbs-keyfile.js';
import { operatorClient } from '../../runner/hub/operator.js';
import type { EscrowBlob } from '../../runner/hub/protocol.js';
import type { CommandModule } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { readInputFile, unlockKeys } from './envelope-io.js';
import { readRecoveryCode } from './custody-io.js';

const keyUnwrap: CommandModule = {
  description: 'open an escrow blob with the recovery code (or an operator key) and write the PBS keyfile',
  configure(command: Command) {
    command
      .requiredOption('--out <file>', 'where to write the PBS keyfile (not overwritten)')
      .option('--escrow <file>', 'the escrow blob (JSON, as the hub serves it or bare)')
      .option('--box <id>', 'with --hub: the box whose escrow to fetch')
      .option('--hub <url>', 'fetch the blob from the hub as an operator (operator-managed custody only)')
      .option('--operator-token <token>', 'the operator token (default: $FELHOM_HUB_OPERATOR_TOKEN)')
      .option('--operator-key <private.asc>', 'unwrap with this operator key instead of the recovery code')
      .option('--json', 'print the fingerprint and path as JSON');
  },
  async run(context, _args, options) {
    let blob: EscrowBlob;
    if (typeof options.escrow === 'string') {
      let value: unknown;
      try {
        value = JSON.parse(await readInputFile(context, options.escrow, 'escrow blob'));
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError('EESCROW_MALFORMED', `${options.escrow} is not JSON`, { cause: error });
      }
      blob = ((value as { escrow?: unknown }).escrow ?? value) as EscrowBlob;
    } else if (typeof options.box === 'string') {
      const held = await operatorClient(options, context.env).fetchEscrowAsOperator(options.box);
      if (!held) throw new CliError('ENO_ESCROW', `the hub holds no escrow for box ${options.box}`);
      blob = held.escrow;
    } else {
      throw usageError('which escrow? pass --escrow <file>, or --box <id> with --hub');
    }
    const code = typeof options.operatorKey === 'string'
      ? await recoveryCodeFromOperatorKey(blob, (await unlockKeys(context, [options.operatorKey]))[0]!)
      : await readRecoveryCode(context, `the recovery code of box ${String(blob.box)}`);
    const keyfile = await unwrapEscrow(blob, code);
    const out = resolve(context.cwd, options.out as string);
    try {
      await writeFile(out, keyfile, { flag: 'wx', mode: 0o600 });
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException).code;
      if (errno === 'EEXIST') throw new CliError('EEXIST', `${out} already exists; choose another --out`, { cause: error });
      throw new CliError('EWRITE', `cannot write ${out}: ${errno ?? (error as Error).message}`, { fault: 'environment', cause: error });
    }
    const info = keyfileInfo(keyfile);
    if (options.json) context.out.json({ box: blob.box, fingerprint: info.fingerprint, keyfile: out });
    else {
      context.out.line(`PBS keyfile of box ${blob.box} written to ${out} (fingerprint ${info.fingerprint})`);
      context.out.line('its passphrase is the recovery code: proxmox-backup-client restore ... --keyfile <file>');
    }
    return ExitCode.ok;
  },
};

export default keyUnwrap;
