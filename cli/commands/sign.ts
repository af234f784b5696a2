import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  addSignature,
  ENVELOPE_TYPES,
  formatEnvelope,
  InvalidBodyError,
  parseEnvelope,
  payloadDigest,
  signEnvelope,
  type EnvelopeDocument,
  type EnvelopeHeader,
  type EnvelopeType,
} from '../../runner/envelope/index.js';
import { writeFileDurably } from '../../runner/state/store.js';
import { TIERS, type Tier } from '../../stacks/spec/types.js';
import type { CommandContext, CommandModule } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { collect, duration, positiveInteger, readInputFile, unlockKeys, validateEnvelopeBody } from './envelope-io.js';

/** Parses the spec or job document (YAML, which includes JSON) into the envelope body. */
async function readBody(context: CommandContext, file: string, type: EnvelopeType): Promise<Record<string, unknown>> {
  let value: unknown;
  try {
    value = parseYaml(await readInputFile(context, file, type === 'spec' ? 'box spec' : 'job'));
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError('EPARSE', `${file}: not YAML or JSON: ${(error as Error).message.split('\n')[0]}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new CliError('EPARSE', `${file}: expected a mapping at the top level`);
  const body = value as Record<string, unknown>;
  if (type === 'job' && body.action === 'rotate-keys' && Array.isArray(body.keys)) {
    // A rotation may name key files; the envelope carries the keys themselves.
    body.keys = await Promise.all(
      body.keys.map(async (key: unknown) =>
        typeof key === 'string' && !key.includes('-----BEGIN') ? readInputFile(context, resolve(dirname(resolve(context.cwd, file)), key), 'public key') : key,
      ),
    );
  }
  return body;
}

function summary(document: EnvelopeDocument, out: string | undefined) {
  const header = JSON.parse(document.payload) as EnvelopeHeader;
  return {
    envelope: out ?? null,
    type: header.type,
    box: header.box,
    tier: header.tier,
    serial: header.serial,
    expiresAt: header.expiresAt,
    digest: payloadDigest(document.payload),
    signatures: document.signatures.length,
  };
}

/**
 * Plans `tier` of a valid spec offline and runs every policy over it (as `felhom policy check`
 * does); a mandatory violation throws PolicyViolationError (EPOLICY_VIOLATION, exit 1) naming the
 * rules, before any key is unlocked.
 */
async function refuseSpecPolicyViolations(body: Record<string, unknown>, tier: Tier, file: string): Promise<void> {
  const [{ catalogLookup }, { validateBoxSpec }, { planBox }, { runPolicies }, { refuseMandatoryViolations }] = await Promise.all([
    import('../../stacks/spec/catalog.js'),
    import('../../stacks/spec/validate.js'),
    import('../../stacks/plan.js'),
    import('../../policies/check.js'),
    import('../../policies/gate.js'),
  ]);
  const catalog = catalogLookup();
  const validation = validateBoxSpec(body, { catalog });
  if (!validation.ok) return; // validateEnvelopeBody has refused it already
  const report = runPolicies(await planBox(validation.spec, { tiers: [tier], catalog }));
  refuseMandatoryViolations(report, `${file}: refusing to sign the ${tier} tier (felhom policy check ${file} --tier ${tier})`);
}

/**
 * `felhom sign <file> --key <private.asc> --box <id> --tier <tier> --serial <n>` makes a signed
 * envelope; `felhom sign --add <envelope> --key <private.asc>` adds a signature to one.
 */
const sign: CommandModule = {
  description: 'sign a box spec or job into an envelope for one box and tier, or add a signature',
  configure(command: Command) {
    command
      .argument('[file]', 'box spec or job document (YAML or JSON)')
      .requiredOption('--key <private.asc>', 'operator private key (repeat to sign with several)', collect)
      .option('--box <id>', 'the box the envelope is for')
      .option('--tier <tier>', `the tier: ${TIERS.join(', ')}`)
      .option('--serial <n>', 'serial, greater than the last one applied for this box and tier')
      .option('--type <type>', 'spec or job', 'spec')
      .option('--expires <duration>', 'validity from now: 30m, 12h, 7d', '7d')
      .option('--add <envelope>', 'add signatures to this existing envelope instead')
      .option('--out <envelope>', 'write the envelope here (default: standard output)')
      .option('--json', 'print a summary as JSON');
  },
  async run(context, [file], options) {
    let document: EnvelopeDocument;
    if (options.add !== undefined) {
      if (file !== undefined) throw usageError('pass either <file> to sign or --add <envelope>, not both');
      const existing = parseEnvelope(await readInputFile(context, options.add as string, 'envelope'));
      document = await addSignature(existing, await unlockKeys(context, options.key as string[]));
    } else {
      if (file === undefined) throw usageError('missing <file> to sign (or --add <envelope>)');
      if (typeof options.box !== 'string' || options.box === '') throw usageError('--box is required');
      if (!TIERS.includes(options.tier as Tier)) throw usageError(`--tier: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(options.tier)}`);
      if (!ENVELOPE_TYPES.includes(options.type as EnvelopeType)) throw usageError(`--type: expected spec or job, got ${JSON.stringify(options.type)}`);
      const serial = positiveInteger(options.serial, '--serial');
      const validity = duration(options.expires as string, '--expires');
      const type = options.type as EnvelopeType;
      const body = await readBody(context, file, type);
      // Refuse to sign what the box would refuse: better to hear it now than from the box.
      const problems = validateEnvelopeBody(body, type);
      if (problems.length > 0) throw new InvalidBodyError(`${file}: invalid ${type} body: ${problems[0]}`, { details: problems });
      // ... and what the box's policy pack would stop: the offline check of this tier first.
      if (type === 'spec') await refuseSpecPolicyViolations(body, options.tier as Tier, file);
      const keys = await unlockKeys(context, options.key as string[]);
      const issuedAt = new Date();
      document = await signEnvelope(
        { type, box: options.box, tier: options.tier as Tier, serial, body, issuedAt, expiresAt: new Date(issuedAt.getTime() + validity) },
        keys,
      );
    }
    const text = formatEnvelope(document);
    const outPath = (options.out as string | undefined) ?? (options.add as string | undefined);
    if (outPath === undefined) {
      if (options.json) context.out.json({ ...summary(document, undefined), document });
      else context.out.line(text.trimEnd());
      return ExitCode.ok;
    }
    try {
      await writeFileDurably(resolve(context.cwd, outPath), text, 0o644);
    } catch (error) {
      throw new CliError('EWRITE', `cannot write ${outPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { exitCode: ExitCode.failure, cause: error });
    }
    const result = summary(document, outPath);
    if (options.json) context.out.json(result);
    else context.out.line(`${outPath}: ${result.type} for ${result.box}/${result.tier} serial ${result.serial}, ${result.signatures} signature${result.signatures === 1 ? '' : 's'}, expires ${result.expiresAt}, sha256 ${result.digest}`);
    return ExitCode.ok;
  },
};

export default sign;
