// The real engine with the provider plugins the npm SDKs request: a `command.local.Command`
// writes a file, a `random.RandomPassword` is kept as a secret.
//
// These plugins come from `npm run engine:install` (installed, an engine mirror, the official
// downloads, or the machine's plugin cache), at the versions engine/plugins.json pins. Where none
// has them this test FAILS and names them and the install command: it never skips.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import command from '@pulumi/command';
import random from '@pulumi/random';
import { pinnedPlugin } from '../../engine/plugins.js';
import { locateEngine, requirePlugins } from '../../runner/engine/locate.js';
import { createWorkspace } from '../../runner/engine/workspace.js';

t.test('command and random plugins create, keep and destroy real resources', async (t) => {
  const engine = await locateEngine();
  const wanted = ['command', 'random'].map((name) => ({ name, version: pinnedPlugin(name).version }));
  try {
    requirePlugins(engine, wanted);
  } catch (error) {
    t.fail((error as Error).message);
    return;
  }

  const root = await mkdtemp(join(tmpdir(), 'felhom-engine-plugins-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const filePath = join(root, 'made-by-command.txt');
  const stateDir = join(root, 'state');
  const { stack } = await createWorkspace({
    projectName: 'engine-plugins',
    stackName: 'test',
    stateDir,
    passphrase: randomBytes(18).toString('base64url'),
    engine,
    requiredPlugins: wanted,
    program: async () => {
      const marker = new command.local.Command('marker', {
        create: `printf 'made by pulumi-command\\n' > '${filePath}'`,
        delete: `rm -f '${filePath}'`,
      });
      const password = new random.RandomPassword('admin', { length: 24, special: false });
      return { markerStdout: marker.stdout, password: pulumi.secret(password.result) };
    },
  });

  // given the stack, when it is brought up, then the command ran and the password is a secret
  const up = await stack.up();
  t.equal(up.summary.result, 'succeeded', 'up succeeds');
  t.equal(await readFile(filePath, 'utf8'), 'made by pulumi-command\n', 'the command wrote the file');
  const password = up.outputs.password;
  t.ok(password?.secret, 'the password output is a secret');
  t.match(password?.value, /^[A-Za-z0-9]{24}$/, 'the password has the requested length and alphabet');
  const entries = await readdir(stateDir, { recursive: true, withFileTypes: true });
  const onDisk = (await Promise.all(entries.filter((entry) => entry.isFile()).map((entry) => readFile(join(entry.parentPath, entry.name), 'utf8')))).join('\n');
  t.notOk(onDisk.includes(password?.value), 'the state files do not hold the password in clear');

  // when previewed unchanged, then nothing would change
  const preview = await stack.preview();
  t.notOk(preview.changeSummary.create || preview.changeSummary.update || preview.changeSummary.delete, 'preview after up shows no changes');

  // when refreshed, then the resources are still there
  const refresh = await stack.refresh();
  t.equal(refresh.summary.result, 'succeeded', 'refresh succeeds');

  // when destroyed, then the delete command removed the file
  const destroy = await stack.destroy();
  t.equal(destroy.summary.result, 'succeeded', 'destroy succeeds');
  await t.rejects(readFile(filePath), { code: 'ENOENT' }, 'destroy removed the file');
});
