/**
 * `felhom controller ui-password --state <dir>`: sets the customer's audit-page password. Reads it
 * from standard input (its first line; never from the command line, where `ps` shows it) and writes
 * its scrypt hash to `<state>/keys/ui-password` (0600), which `controller run --ui-listen` reads.
 * Restart the controller for a new password to take effect.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandModule } from '../command.js';

async function firstLine(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(Buffer.from(chunk as Buffer));
    size += (chunk as Buffer).length;
    if (size > 4096) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

const command: CommandModule = {
  description: "set the customer's audit-page password (read from standard input; its hash goes to <state>/keys/ui-password)",
  configure(command) {
    command.requiredOption('--state <dir>', 'the controller state directory');
  },
  async run(context, _args, options) {
    const { UI_PASSWORD_FILE, writeUiPasswordHash } = await import('../../runner/controller/ui-password.js');
    const keys = join(resolve(context.cwd, options.state as string), 'keys');
    if (process.stdin.isTTY) context.out.warn('type the password and press Enter (it is shown as you type; pipe it in to avoid that)');
    const password = await firstLine();
    await mkdir(keys, { recursive: true, mode: 0o700 });
    const file = join(keys, UI_PASSWORD_FILE);
    await writeUiPasswordHash(file, password);
    context.out.line(`the audit-page password's hash is in ${file}; restart the controller (controller run --ui-listen) for it to take effect`);
  },
};
export default command;
