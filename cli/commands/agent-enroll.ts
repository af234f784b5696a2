/**
 * `felhom agent enroll --hub <url> --code <code> --state <dir>`: the box's one command at physical
 * presence (docs/architecture.md#enrollment). Redeems the one-time code, pins the operator keys the signed configuration
 * names once the code's trust root vouched for them, and writes the agent's own key and hub
 * credential into the state directory (runner/enrollment/box.ts). Run it again after a failure: it
 * resumes on the credentials it wrote, and says when only a regenerated code can help.
 */
import { resolve } from 'node:path';
import type { CommandContext, CommandModule } from '../command.js';
import { usageError } from '../errors.js';

export const ENROLL_CODE_ENV = 'FELHOM_ENROLL_CODE';

/** The hub URL and the one-time code of `--hub`/`--code` or their environment variables; a usage error naming the missing one. */
export function hubAndCode(context: CommandContext, options: Record<string, unknown>): { hubUrl: string; code: string } {
  const hubUrl = (options.hub as string | undefined) ?? context.env.FELHOM_HUB_URL;
  if (!hubUrl) throw usageError('--hub: no hub URL given and $FELHOM_HUB_URL is not set');
  const code = (options.code as string | undefined) ?? context.env[ENROLL_CODE_ENV];
  if (!code) throw usageError(`--code: no code given and $${ENROLL_CODE_ENV} is not set`);
  return { hubUrl, code };
}

const command: CommandModule = {
  description: 'enroll this box at the hub with a one-time code: pin the operator keys, make the agent key and hub credential',
  configure(command) {
    command
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--code <code>', `the one-time code from \`felhom hub enroll\` (default: $${ENROLL_CODE_ENV})`)
      .requiredOption('--state <dir>', 'the agent state directory to write')
      .option('--trust-root <fingerprint>', "the operator key fingerprint this box trusts (the image's); must agree with the code's")
      .option('--json', 'print the result as JSON');
  },
  async run(context, _args, options) {
    const { hubUrl, code } = hubAndCode(context, options);
    const { enrollBox } = await import('../../runner/enrollment/box.js');
    const stateDir = resolve(context.cwd, options.state as string);
    const result = await enrollBox({
      hubUrl,
      code,
      stateDir,
      ...(options.trustRoot ? { trustRoot: options.trustRoot as string } : {}),
      onStage: (stage) => {
        if (!options.json) context.out.warn(`felhom: enrollment: ${stage}`);
      },
    });
    if (options.json) {
      context.out.json(result);
      return;
    }
    context.out.line(`box ${result.box} ${result.alreadyEnrolled ? 'was already enrolled' : 'enrolled'} at ${result.hub} (${result.completedAt})`);
    context.out.line(`pinned ${result.operatorFingerprints.length} operator key(s), threshold ${result.threshold}, in ${result.trustStore}:`);
    for (const fingerprint of result.operatorFingerprints) context.out.line(`  ${fingerprint}`);
    context.out.line(`agent key ${result.agentFingerprint}; hub API key in ${result.apiKeyFile}`);
    context.out.line(`next: felhom agent run --hub ${result.hub} --box ${result.box} --tier host --state ${stateDir} --trust ${result.trustStore}`);
  },
};
export default command;
