/**
 * `felhom hub enroll`: enrolls a box at the hub.
 *
 * - With `--key` (the operator's signing key): creates the box record with a one-time retrieval
 *   code (docs/architecture.md#enrollment) and prints the code, once. The command makes the code, signs the box's
 *   enrollment configuration (the operator keys it will pin) and files the code's hash and the
 *   envelope at the hub; `--regenerate` replaces the code of a box that has not completed
 *   enrollment. The person at the box runs `felhom agent enroll --code <code>`.
 * - Without it: enrolls the box with an API key the hub makes and prints the key, once; with
 *   `--rotate`, issues an enrolled box a new key (the old one lost or leaked).
 */
import { resolve } from 'node:path';
import type { CommandContext, CommandModule } from '../command.js';
import { usageError } from '../errors.js';
import { hubOperatorOptions } from '../flags.js';
import { operatorClient } from '../../runner/hub/operator.js';
import { MAX_CODE_TTL_MS } from '../../runner/hub/protocol.js';
import { collect, duration, unlockKeys } from './envelope-io.js';

async function codeEnrollment(context: CommandContext, options: Record<string, unknown>): Promise<void> {
  const box = options.box as string;
  if (options.rotate) throw usageError('--rotate issues an API key; it does not go with --key, --ttl or --regenerate');
  const keyFiles = (options.key as string[] | undefined) ?? [];
  if (keyFiles.length === 0) throw usageError('--key <private.asc>: a one-time code needs the operator key that signs the enrollment configuration');
  const ttlMs = duration(String(options.ttl ?? '24h'), '--ttl');
  if (ttlMs > MAX_CODE_TTL_MS) throw usageError(`--ttl: at most ${MAX_CODE_TTL_MS / 86_400_000}d`);
  const client = operatorClient(options, context.env);
  const [{ createTrustStore, fingerprintOf, loadTrustStore }, { newEnrollmentCode, enrollmentCodeDigest }, { signEnrollmentConfig }] = await Promise.all([
    import('../../runner/envelope/index.js'),
    import('../../runner/enrollment/code.js'),
    import('../../runner/enrollment/config.js'),
  ]);
  const signingKeys = await unlockKeys(context, keyFiles);
  const trust = options.trust
    ? await loadTrustStore(resolve(context.cwd, options.trust as string))
    : await createTrustStore(signingKeys.map((key) => key.toPublic().armor()), 1);
  const root = fingerprintOf(signingKeys[0]!);
  if (!trust.keys.some((key) => key.fingerprint === root)) throw usageError(`--key: ${keyFiles[0]} (${root}) is not in the trust store ${String(options.trust)}; the first --key is the box's trust root and must be pinned`);
  const { code } = newEnrollmentCode(box, root);
  const expiresAt = new Date(Date.now() + ttlMs);
  const envelope = await signEnrollmentConfig({ box, code, trust, signingKeys, codeExpiresAt: expiresAt });
  const issued = await client.issueEnrollmentCode(box, { codeHash: enrollmentCodeDigest(code), expiresAt: expiresAt.toISOString(), envelope, regenerate: options.regenerate === true });
  if (options.json) {
    context.out.json({ box: issued.box, code, expiresAt: issued.expiresAt });
    return;
  }
  context.out.line(`box ${issued.box}: ${issued.regenerated ? 'a new one-time code replaces the old one (which no longer works)' : 'enrolled with a one-time code'}; it expires unused at ${issued.expiresAt}`);
  context.out.line(`on the box, as root: felhom agent enroll --hub ${client.url} --state /var/lib/felhom --code <the code>`);
  context.out.line('the code follows; the hub keeps only a hash and cannot show it again:');
  context.out.line(code);
}

const command: CommandModule = {
  description: 'enroll a box at the hub: print a one-time code (with --key) or its API key (shown once)',
  configure(command) {
    hubOperatorOptions(command)
      .requiredOption('--box <id>', 'the box id')
      .option('--key <private.asc>', "operator key that signs the box's enrollment configuration; makes a one-time code (repeat to reach a threshold; the first is the trust root)", collect)
      .option('--trust <store>', 'the trust store the box pins (felhom trust init; default: the --key keys, threshold 1)')
      .option('--ttl <duration>', 'how long the unused code works, e.g. 30m, 24h, 7d (default 24h)')
      .option('--regenerate', 'replace the code of a box that has not completed enrollment')
      .option('--rotate', 'issue an enrolled box a new API key; the old key stops working')
      .option('--json', 'print { box, code, expiresAt } (or { box, apiKey, enrolledAt }) as JSON');
  },
  async run(context, _args, options) {
    if (options.key || options.regenerate || options.ttl || options.trust) {
      await codeEnrollment(context, options);
      return;
    }
    const client = operatorClient(options, context.env);
    const enrolled = options.rotate ? await client.rotateBoxKey(options.box as string) : await client.enrollBox(options.box as string);
    if (options.json) {
      context.out.json(enrolled);
      return;
    }
    if ('keyRotatedAt' in enrolled) context.out.line(`box ${enrolled.box}: new API key issued at ${enrolled.keyRotatedAt}; the old key no longer works`);
    else context.out.line(`box ${enrolled.box} enrolled at ${enrolled.enrolledAt}`);
    context.out.line("its API key follows; the hub keeps only a hash and cannot show it again. Put it in the box agent's configuration now:");
    context.out.line(enrolled.apiKey);
  },
};
export default command;
