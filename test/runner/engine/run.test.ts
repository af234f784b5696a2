// The engine runner's typed errors and crash-recovery primitives, on the real engine.
import t from 'tap';
import { mkdir, writeFile, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { CommandError, ConcurrentUpdateError } from '@pulumi/pulumi/automation/index.js';
import { EngineBusyError, EngineProgramError, EnginePluginMissingError, EngineRunError } from '../../../runner/engine/errors.js';
import { countChanges, engineLocks, EngineRunner, mapEngineError } from '../../../runner/engine/run.js';
import { testProgramFactory } from '../../helpers/agent-program.js';
import { PluginNotInstalledError } from '../../../runner/engine/locate.js';
import { describeFailure } from '../../../cli/errors.js';

const engine = new EngineRunner();

t.test('a program that throws is an EngineProgramError (stalled), found by identity', async (t) => {
  const program = async () => {
    throw new Error('guests[0].cores: expected a positive integer');
  };
  const error = await engine.run('preview', program, { projectName: 't', stackName: 'throws', stateDir: t.testdir(), passphrase: 'p-0123456789' }).catch((e: unknown) => e);
  t.type(error, EngineProgramError);
  t.match(error, { code: 'EENGINE_PROGRAM', kind: 'stalled', message: /cores: expected a positive integer/ });
});

t.test('a missing plugin fails the preflight as EnginePluginMissingError', async (t) => {
  await t.rejects(engine.preflight({ requiredPlugins: [{ name: 'nosuch', version: '1.0.0' }] }), EnginePluginMissingError);
});

t.test('Automation API errors map by class', async (t) => {
  const result = { stdout: '', stderr: 'x', code: 255, toString: () => 'x' };
  t.type(mapEngineError(new (ConcurrentUpdateError as unknown as new (r: unknown) => Error)(result), undefined, undefined), EngineBusyError);
  t.type(mapEngineError(new (CommandError as unknown as new (r: unknown) => Error)(result), undefined, undefined), EngineRunError);
  t.type(mapEngineError(new PluginNotInstalledError('/p', [{ name: 'a', version: '1' }]), undefined, undefined), EnginePluginMissingError);
  t.same(countChanges({ create: 2, same: 3, 'create-replacement': 1 }), { create: 2, update: 0, delete: 0, replace: 0, same: 3 });
});

t.test('recover removes a stale engine lock of a dead process and refuses a live one', async (t) => {
  const stateDir = t.testdir();
  const outputDir = t.testdir();
  const target = { projectName: 'felhom', stackName: 'box-1.host', stateDir, passphrase: 'p-0123456789' };
  const program = testProgramFactory(outputDir)('edge', { guests: [], apps: [], storage: [] } as never, { secret: () => pulumi.secret('x') });
  await engine.run('up', program, target);
  const lockDir = join(stateDir, '.pulumi', 'locks', 'organization', 'felhom', 'box-1.host');
  await mkdir(lockDir, { recursive: true });
  await writeFile(join(lockDir, 'live.json'), JSON.stringify({ pid: process.pid, hostname: hostname() }));
  await t.rejects(engine.recover(program, target), EngineBusyError, 'a live holder: waiting');
  await writeFile(join(lockDir, 'live.json'), JSON.stringify({ pid: 2 ** 22 + 7, hostname: hostname() }));
  t.match(await engineLocks(target), [{ stale: true }], 'a dead pid is stale');
  const outcome = await engine.recover(program, target);
  t.equal(outcome.staleLocksRemoved, 1, 'the stale lock was removed');
  t.same(await readdir(lockDir), [], 'no lock file left');
  const after = await engine.run('preview', program, target);
  t.equal(after.counts.create + after.counts.update, 0, 'the stack works again');
});

t.test('a mandatory policy violation from the engine is an EnginePolicyError naming each rule', async (t) => {
  const { EnginePolicyError } = await import('../../../runner/engine/errors.js');
  const error = new EnginePolicyError([
    { rule: 'images-pinned', message: 'pulls "x:1" by tag', urn: 'urn:a::x' },
    { rule: 'exposure', message: 'publishes port 22' },
  ]);
  t.match(error, { code: 'EPOLICY_VIOLATION', kind: 'stalled', message: 'mandatory policies images-pinned, exposure failed in the engine: pulls "x:1" by tag (and 1 more)' });
  t.equal(describeFailure(error).exitCode, 1);
  t.same(error.details, ['images-pinned: pulls "x:1" by tag', 'exposure: publishes port 22']);
  t.equal(new EnginePolicyError([{ rule: 'exposure', message: 'm' }]).message, 'mandatory policy exposure failed in the engine: m');
});
