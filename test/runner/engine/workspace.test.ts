import t from 'tap';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginNotInstalledError, locateEngine, type LocatedEngine } from '../../../runner/engine/locate.js';
import { createWorkspace } from '../../../runner/engine/workspace.js';

const engine: LocatedEngine = await locateEngine();

async function stateDirFor(t: Tap.Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'felhom-workspace-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

t.test('a workspace keeps state in its file backend and settings beside it', async (t) => {
  const stateDir = await stateDirFor(t);
  const passphrase = 'correct horse battery staple';
  const { stack, workspace, backendUrl } = await createWorkspace({
    projectName: 'workspace-test', stackName: 'dev', stateDir, passphrase, engine,
    program: async () => ({ greeting: 'hello' }),
  });
  t.equal(backendUrl, `file://${stateDir}`);
  t.equal(workspace.workDir, join(stateDir, 'workspaces', 'workspace-test'), 'settings live beside the state');
  t.equal(stack.name, 'dev');

  const up = await stack.up();
  t.same(up.outputs.greeting, { value: 'hello', secret: false }, 'the inline program ran in this process');
  t.ok((await stat(join(stateDir, '.pulumi', 'stacks', 'workspace-test', 'dev.json'))).isFile(), 'the state is in the file backend');
  const settings = await readFile(join(workspace.workDir, 'Pulumi.dev.yaml'), 'utf8');
  t.match(settings, /encryptionsalt:/, 'the passphrase provider salt is kept for the next run');
  const everything = await Promise.all((await readdir(stateDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile()).map((entry) => readFile(join(entry.parentPath, entry.name), 'utf8')));
  t.notOk(everything.join('\n').includes(passphrase), 'the passphrase is written nowhere');

  // when the same stack is opened again, then it is selected with its state
  const again = await createWorkspace({
    projectName: 'workspace-test', stackName: 'dev', stateDir, passphrase, engine,
    program: async () => ({ greeting: 'hello' }),
  });
  const preview = await again.stack.preview();
  t.same(preview.changeSummary, { same: 1 }, 'the reopened stack has nothing to change');
});

t.test('a workspace refuses an empty passphrase', async (t) => {
  const stateDir = await stateDirFor(t);
  await t.rejects(createWorkspace({
    projectName: 'workspace-test', stackName: 'dev', stateDir, passphrase: '', engine, program: async () => ({}),
  }), /passphrase must not be empty/);
});

t.test('a missing plugin is a typed error before the engine starts', async (t) => {
  const stateDir = await stateDirFor(t);
  const error = await createWorkspace({
    projectName: 'workspace-test', stackName: 'dev', stateDir, passphrase: 'x', engine, program: async () => ({}),
    requiredPlugins: [{ name: 'no-such-provider', version: '0.0.1' }],
  }).catch((caught: unknown) => caught);
  t.type(error, PluginNotInstalledError);
  t.match(error, { code: 'EPLUGIN_MISSING', missing: [{ name: 'no-such-provider', version: '0.0.1' }] });
  t.same(await readdir(stateDir), [], 'nothing was created');
});
