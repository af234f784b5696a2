import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  addSignature,
  DEFAULT_VALIDITY_MS,
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
import { operatorClient } from '../../runner/hub/operator.js';
import { hubOperatorOptions } from '../flags.js';
import { listOption, outputPaths, serialsFor, tierList } from '../signing.js';
import type { CommandContext, CommandModule } from '../command.js';
import { CliError, ExitCode, usageError } from '../errors.js';
import { collect, duration, readInputFile, unlockKeys, validateEnvelopeBody } from './envelope-io.js';

/** The default validity as `--expires` spells it: 30d for a spec, 7d for a job. */
const DEFAULT_VALIDITY = { spec: `${DEFAULT_VALIDITY_MS.spec / 86_400_000}d`, job: `${DEFAULT_VALIDITY_MS.job / 86_400_000}d` } as const;

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

/** One envelope the command makes. */
interface Target {
  readonly type: EnvelopeType;
  readonly box: string;
  readonly tier: Tier;
  readonly body: Record<string, unknown>;
  readonly source: string;
}

/** The envelopes `felhom sign <files...>` makes: each file for each box and tier named. */
async function targetsFromFiles(context: CommandContext, files: readonly string[], options: Record<string, unknown>): Promise<Target[]> {
  if (!ENVELOPE_TYPES.includes(options.type as EnvelopeType)) throw usageError(`--type: expected spec or job, got ${JSON.stringify(options.type)}`);
  const type = options.type as EnvelopeType;
  const tiers = tierList(options.tier as string[] | undefined);
  const boxes = listOption(options.box as string[] | undefined);
  const targets: Target[] = [];
  for (const file of files) {
    const body = await readBody(context, file, type);
    // Refuse to sign what the box would refuse: better to hear it now than from the box.
    const problems = validateEnvelopeBody(body, type);
    if (problems.length > 0) throw new InvalidBodyError(`${file}: invalid ${type} body: ${problems[0]}`, { details: problems });
    // ... and what the box's policy pack would stop: the offline check of each tier first.
    if (type === 'spec') for (const tier of tiers) await refuseSpecPolicyViolations(body, tier, file);
    // A spec names its own box; a job goes to the boxes named on the command line.
    const specBox = type === 'spec' ? ((body.metadata as { box?: unknown } | undefined)?.box as string | undefined) : undefined;
    const forBoxes = boxes.length > 0 ? boxes : specBox ? [specBox] : [];
    if (forBoxes.length === 0) throw usageError(`--box is required for ${file}`);
    for (const box of forBoxes) for (const tier of tiers) targets.push({ type, box, tier, body, source: file });
  }
  return targets;
}

/** `felhom sign --renew <envelope>`: the same type, box, tier and body, newly signed with a new serial and validity. */
async function targetFromEnvelope(context: CommandContext, file: string): Promise<Target> {
  const existing = parseEnvelope(await readInputFile(context, file, 'envelope'));
  const header = JSON.parse(existing.payload) as EnvelopeHeader;
  return { type: header.type, box: header.box, tier: header.tier, body: header.body as Record<string, unknown>, source: file };
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
 * `felhom sign <file...> --key <private.asc> --tier <tier> --serial <n|next>` makes signed
 * envelopes (one per file, box and tier); `felhom sign --add <envelope> --key <private.asc>`
 * adds a signature to one; `felhom sign --renew <envelope>` signs its content again with a new
 * serial and validity.
 */
const sign: CommandModule = {
  description: 'sign box specs or jobs into envelopes for boxes and tiers, add a signature, or renew an envelope',
  configure(command: Command) {
    hubOperatorOptions(
      command
        .argument('[files...]', 'box spec or job documents (YAML or JSON)')
        .requiredOption('--key <private.asc>', 'operator private key (repeat to sign with several)', collect)
        .option('--box <id>', "the box (repeat or comma-separate for several; default: a spec's metadata.box)", collect)
        .option('--tier <tier>', `the tier: ${TIERS.join(', ')} (repeat or comma-separate for several)`, collect)
        .option('--serial <n|next>', 'serial above the last one for the box and tier, or next: one more than the hub has')
        .option('--type <type>', 'spec or job', 'spec')
        .option('--expires <duration>', `validity from now: 30m, 12h, 7d (default: ${DEFAULT_VALIDITY.spec} for a spec, ${DEFAULT_VALIDITY.job} for a job)`)
        .option('--add <envelope>', 'add signatures to this existing envelope instead')
        .option('--renew <envelope>', 'sign the content of this envelope again, with a new --serial and validity')
        .option('--out <envelope>', 'write the envelope to this file (default: standard output)')
        .option('--out-dir <dir>', 'write each envelope to <dir>/<box>.<tier>.<serial>.json')
        .option('--json', 'print a summary as JSON'),
    );
  },
  async run(context, files, options) {
    if (options.add !== undefined) return addSignatures(context, files, options);
    if (options.renew !== undefined && files.length > 0) throw usageError('pass either <file> to sign or --renew <envelope>, not both');
    if (options.renew !== undefined && (options.box !== undefined || options.tier !== undefined)) throw usageError('--renew keeps the envelope\'s box and tier; drop --box and --tier');
    if (options.renew === undefined && files.length === 0) throw usageError('missing <file> to sign (or --add / --renew <envelope>)');
    const targets = options.renew !== undefined ? [await targetFromEnvelope(context, options.renew as string)] : await targetsFromFiles(context, files, options);
    const validity = options.expires === undefined ? undefined : duration(options.expires as string, '--expires');
    const serials = await serialsFor(targets, options.serial, () => operatorClient(options, context.env));
    const numbered = targets.map((target, index) => ({ ...target, serial: serials[index]! }));
    const outPaths = outputPaths(numbered, options);
    const keys = await unlockKeys(context, options.key as string[]);
    const issuedAt = new Date();
    const documents: EnvelopeDocument[] = [];
    for (const target of numbered) {
      const expiresAt = new Date(issuedAt.getTime() + (validity ?? DEFAULT_VALIDITY_MS[target.type]));
      documents.push(await signEnvelope({ type: target.type, box: target.box, tier: target.tier, serial: target.serial, body: target.body, issuedAt, expiresAt }, keys));
    }
    // Every envelope is signed before any is written: a refusal leaves no partial set behind.
    const results = [];
    for (const [index, document] of documents.entries()) results.push(await writeEnvelope(context, document, outPaths[index], options));
    if (options.json && outPaths[0] !== undefined) context.out.json(results.length === 1 ? results[0] : { envelopes: results });
    return ExitCode.ok;
  },
};

async function addSignatures(context: CommandContext, files: readonly string[], options: Record<string, unknown>): Promise<number> {
  if (files.length > 0) throw usageError('pass either <file> to sign or --add <envelope>, not both');
  if (options.renew !== undefined) throw usageError('pass either --add or --renew, not both');
  const existing = parseEnvelope(await readInputFile(context, options.add as string, 'envelope'));
  const document = await addSignature(existing, await unlockKeys(context, options.key as string[]));
  const result = await writeEnvelope(context, document, (options.out as string | undefined) ?? (options.add as string), options);
  if (options.json) context.out.json(result);
  return ExitCode.ok;
}

/** Writes one envelope (or prints it when there is no path) and says what it is. */
async function writeEnvelope(context: CommandContext, document: EnvelopeDocument, outPath: string | undefined, options: Record<string, unknown>) {
  if (outPath === undefined) {
    if (options.json) context.out.json({ ...summary(document, undefined), document });
    else context.out.line(formatEnvelope(document).trimEnd());
    return summary(document, undefined);
  }
  try {
    const absolute = resolve(context.cwd, outPath);
    await mkdir(dirname(absolute), { recursive: true });
    await writeFileDurably(absolute, formatEnvelope(document), 0o644);
  } catch (error) {
    throw new CliError('EWRITE', `cannot write ${outPath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { fault: 'environment', cause: error });
  }
  const result = summary(document, outPath);
  if (!options.json) context.out.line(`${outPath}: ${result.type} for ${result.box}/${result.tier} serial ${result.serial}, ${result.signatures} signature${result.signatures === 1 ? '' : 's'}, expires ${result.expiresAt}, sha256 ${result.digest}`);
  return result;
}

export default sign;
