// A failed engine operation keeps the engine's first error diagnostics, resource by resource,
// for the box's report (docs/hub-protocol.md, "Reports").
import t from 'tap';
import { EngineRunError } from '../../../runner/engine/errors.js';
import { EngineRunner } from '../../../runner/engine/run.js';
import { FailingDisk } from '../../helpers/agent-program.js';

t.test('an up that fails in a provider carries the error diagnostics of that resource', async (t) => {
  const program = async () => {
    new FailingDisk('failing-disk', 'storage local-lvm is full');
  };
  const error = await new EngineRunner().run('up', program, { projectName: 't', stackName: 'fails', stateDir: t.testdir(), passphrase: 'p-0123456789' }).catch((e: unknown) => e);
  t.type(error, EngineRunError);
  const { diagnostics, details } = error as EngineRunError;
  t.ok(diagnostics.length >= 1, `${diagnostics.length} diagnostics`);
  t.ok(diagnostics[0]!.urn?.endsWith('::failing-disk'), 'the diagnostic names its resource');
  t.match(details[0], /^error: failing-disk \(.*\): storage local-lvm is full/);
});
