import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { EnvelopeError, ENVELOPE_TYPES, loadTrustStore, verifyEnvelope, type EnvelopeType } from '../../runner/envelope/index.js';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { CommandModule } from '../command.js';
import { CliError, describeFailure, ExitCode, usageError } from '../errors.js';
import { positiveInteger, validateEnvelopeBody } from './envelope-io.js';

/**
 * `felhom verify <envelope> --trust <store> --box <id> --tier <tier> [--last-serial n]`: the
 * same checks, in the same order, as the box agent. Exit 0 when valid, 1 with the reason when not.
 */
const verify: CommandModule = {
  description: 'verify a signed envelope as a box would: signatures, addressing, freshness, body',
  configure(command: Command) {
    command
      .argument('<envelope>', 'the envelope file')
      .requiredOption('--trust <store>', 'the box trust store (felhom trust init)')
      .requiredOption('--box <id>', 'the box verifying')
      .requiredOption('--tier <tier>', `the tier verifying: ${TIERS.join(', ')}`)
      .option('--type <type>', 'require this envelope type: spec or job')
      .option('--last-serial <n>', 'the rollback floor: the highest serial this box has verified for this tier')
      .option('--json', 'print the result as JSON (also when refused)');
  },
  async run(context, [file], options) {
    if (!TIERS.includes(options.tier as Tier)) throw usageError(`--tier: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(options.tier)}`);
    if (options.type !== undefined && !ENVELOPE_TYPES.includes(options.type as EnvelopeType)) throw usageError(`--type: expected spec or job, got ${JSON.stringify(options.type)}`);
    const lastSerial = options.lastSerial === undefined ? undefined : positiveInteger(options.lastSerial, '--last-serial');
    const trust = await loadTrustStore(resolve(context.cwd, options.trust as string));
    let bytes: Uint8Array;
    try {
      bytes = await readFile(resolve(context.cwd, file!));
    } catch (error) {
      throw new CliError('EREAD', `cannot read envelope ${file}: ${(error as NodeJS.ErrnoException).code ?? 'EIO'}`, { fault: 'environment', cause: error });
    }
    try {
      const verified = await verifyEnvelope(bytes, {
        trust,
        box: options.box as string,
        tier: options.tier as Tier,
        type: options.type as EnvelopeType | undefined,
        lastSerial,
        validateBody: validateEnvelopeBody,
      });
      const { header } = verified;
      const action = header.type === 'job' ? (header.body.action as string) : undefined;
      if (options.json) {
        context.out.json({
          valid: true,
          type: header.type,
          ...(action ? { action } : {}),
          box: header.box,
          tier: header.tier,
          serial: header.serial,
          issuedAt: header.issuedAt,
          expiresAt: header.expiresAt,
          digest: verified.digest,
          signers: verified.signers,
          threshold: trust.threshold,
        });
      } else {
        context.out.line(`${file}: valid ${action ? `${action} job` : 'spec'} for ${header.box}/${header.tier} serial ${header.serial}`);
        context.out.line(`  signed by ${verified.signers.join(', ')} (threshold ${trust.threshold})`);
        context.out.line(`  issued ${header.issuedAt}, expires ${header.expiresAt}`);
        context.out.line(`  sha256 ${verified.digest}`);
      }
      return ExitCode.ok;
    } catch (error) {
      if (!(error instanceof EnvelopeError) || !options.json) throw error;
      context.out.json({ valid: false, reason: error.reason, code: error.code, message: error.message, details: error.details });
      return describeFailure(error).exitCode;
    }
  },
};

export default verify;
