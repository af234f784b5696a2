/** `felhom trust show <store>`: what a box trusts: the threshold, each pinned key, the last rotation. */
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { loadTrustStore } from '../../runner/envelope/index.js';
import { keyIdOf } from '../../runner/envelope/keys.js';

const command: CommandModule = {
  description: 'show the operator keys and the signature threshold a trust store pins',
  configure(command) {
    command.argument('<store>', 'the trust store file (felhom trust init; on a box <state>/trust.json)').option('--json', 'print the store as JSON');
  },
  async run(context, [file], options) {
    const store = await loadTrustStore(resolve(context.cwd, file!));
    const keys = store.keys.map((key) => ({
      fingerprint: key.fingerprint,
      keyId: keyIdOf(key.publicKey),
      userIds: key.userIds,
      created: key.publicKey.getCreationTime().toISOString(),
    }));
    if (options.json) {
      context.out.json({ trustStore: file, threshold: store.threshold, keys, lastRotation: store.lastRotation ?? null });
      return;
    }
    context.out.line(`${file}: ${keys.length} key${keys.length === 1 ? '' : 's'}, threshold ${store.threshold} (each envelope needs ${store.threshold} of these signatures)`);
    for (const key of keys) context.out.line(`  ${key.fingerprint}  ${key.userIds.join(', ')}`);
    context.out.line(
      store.lastRotation
        ? `last rotation: rotate-keys job serial ${store.lastRotation.serial} for the ${store.lastRotation.tier} tier, envelope ${store.lastRotation.digest.slice(0, 12)}`
        : 'never rotated: the keys pinned at enrolment',
    );
  },
};
export default command;
