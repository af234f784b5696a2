// The real Pulumi engine runs a small stack through up, preview, refresh and destroy.
//
// The resources are dynamic providers (they run in @pulumi/pulumi's own provider plugin), so the
// stack is real on any machine where `npm run engine:install` installed the CLI: one writes a
// file into a temp dir, one generates a password that must stay a secret.
// There is no skipping: without the engine the test fails and says how to install it.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { locateEngine, type LocatedEngine } from '../../runner/engine/locate.js';
import { createWorkspace } from '../../runner/engine/workspace.js';
import { LocalFile } from '../helpers/agent-program.js';

const execFileAsync = promisify(execFile);

let engine: LocatedEngine;
try {
  engine = await locateEngine();
} catch (error) {
  t.fail(`the real engine is required: ${(error as Error).message}`);
  t.end();
  process.exit(1);
}

/** A random password generated inside the provider, so its only copy is in the (encrypted) state. */
const passwordProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const crypto = await import('node:crypto');
    const value = crypto.randomBytes(inputs.bytes).toString('base64url');
    return { id: crypto.randomUUID(), outs: { bytes: inputs.bytes, value } };
  },
};

class GeneratedPassword extends pulumi.dynamic.Resource {
  declare readonly value: pulumi.Output<string>;
  constructor(name: string, bytes: number) {
    super(passwordProvider, name, { bytes, value: undefined }, { additionalSecretOutputs: ['value'] });
  }
}

function program(filePath: string, content: string): pulumi.automation.PulumiFn {
  return async () => {
    const file = new LocalFile('marker-file', { path: filePath, content });
    const password = new GeneratedPassword('admin-password', 24);
    return { filePath: file.id, password: password.value };
  };
}

/** Every file under the state folder, read as text: what a person copying the backend would see. */
async function stateFilesText(stateDir: string): Promise<string> {
  const entries = await readdir(stateDir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(entries.filter((entry) => entry.isFile()).map((entry) => readFile(join(entry.parentPath, entry.name), 'utf8')));
  return texts.join('\n');
}

t.test('a small stack goes through up, preview, refresh and destroy with the real engine', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'felhom-engine-lifecycle-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const stateDir = join(root, 'state');
  const filePath = join(root, 'written-by-pulumi.txt');
  const passphrase = randomBytes(18).toString('base64url');
  const { stack, workspace, backendUrl } = await createWorkspace({
    projectName: 'engine-lifecycle',
    stackName: 'test',
    program: program(filePath, 'hello from the engine\n'),
    stateDir,
    passphrase,
    engine,
  });

  // given a new stack, when it is brought up, then the file exists and the password is a secret
  const up = await stack.up();
  t.equal(up.summary.result, 'succeeded', 'up succeeds');
  t.same(up.summary.resourceChanges, { create: 3 }, 'the stack, the file and the password are created');
  t.equal(await readFile(filePath, 'utf8'), 'hello from the engine\n', 'the file was written by the engine');
  const password = up.outputs.password;
  t.ok(password?.secret, 'the password output is a secret');
  t.match(password?.value, /^[A-Za-z0-9_-]{32}$/, 'the password is 24 random bytes in base64url');

  // then neither the password nor the passphrase is in clear in the exported or on-disk state
  // (the Automation API's exportStack() decrypts with --show-secrets; the CLI's export does not)
  const exportFile = join(root, 'exported-state.json');
  await execFileAsync(engine.pulumiPath, ['stack', 'export', '--stack', 'test', '--file', exportFile], {
    cwd: workspace.workDir,
    env: { ...process.env, ...engine.env, PULUMI_BACKEND_URL: backendUrl, PULUMI_CONFIG_PASSPHRASE: passphrase },
  });
  const exported = await readFile(exportFile, 'utf8');
  t.match(exported, /admin-password/, 'the exported state holds the password resource');
  t.notOk(exported.includes(password?.value), 'the exported state does not hold the password in clear');
  t.match(exported, /"ciphertext"/, 'the exported state holds the password encrypted');
  const onDisk = await stateFilesText(stateDir);
  t.match(onDisk, /written-by-pulumi\.txt/, 'the state files were read (they name the file)');
  t.notOk(onDisk.includes(password?.value), 'the state files do not hold the password in clear');
  t.notOk(onDisk.includes(passphrase), 'the state files do not hold the passphrase');

  // when previewed again unchanged, then nothing would change
  const preview = await stack.preview();
  t.same(preview.changeSummary, { same: 3 }, 'preview after up shows no changes');

  // when the file is changed outside Pulumi and the stack refreshed, then the state notices
  const refreshUnchanged = await stack.refresh();
  t.same(refreshUnchanged.summary.resourceChanges, { same: 3 }, 'refresh of an untouched stack changes nothing');
  await writeFile(filePath, 'edited by hand\n');
  const refreshEdited = await stack.refresh();
  t.equal(refreshEdited.summary.resourceChanges?.update, 1, 'refresh records the hand edit');
  const afterRefresh = await stack.preview();
  t.equal(afterRefresh.changeSummary.update, 1, 'the next preview would put the declared content back');
  await stack.up();
  t.equal(await readFile(filePath, 'utf8'), 'hello from the engine\n', 'up restores the declared content');

  // when destroyed, then the file is gone and the state holds no resources
  const destroy = await stack.destroy();
  t.equal(destroy.summary.result, 'succeeded', 'destroy succeeds');
  t.same(destroy.summary.resourceChanges, { delete: 3 }, 'everything is deleted');
  await t.rejects(readFile(filePath), { code: 'ENOENT' }, 'destroy removed the file');
  const afterDestroy = await stack.exportStack();
  t.same(afterDestroy.deployment.resources ?? [], [], 'the state is empty');
});
