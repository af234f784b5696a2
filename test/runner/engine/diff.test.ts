// What the engine plans, as `pulumi preview --diff` shows it: op, type, name and the changed
// inputs with secrets masked; and a failure's diagnostics, per resource. On the real engine with
// dynamic providers, plus the rendering rules on their own.
import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import type { StepEventMetadata } from '@pulumi/pulumi/automation/index.js';
import { displayValue, opSymbol, parsePropertyPath, renderDiagnostics, renderDiff, stepFromMetadata, urnName, urnType } from '../../../runner/engine/diff.js';
import { EngineRunError } from '../../../runner/engine/errors.js';
import { EngineRunner, withDiagnostics } from '../../../runner/engine/run.js';
import { LocalFile } from '../../helpers/agent-program.js';

const engine = new EngineRunner();
const SECRET = 'hunter2-secret-value';

const refusingProvider: pulumi.dynamic.ResourceProvider = {
  async create() {
    throw new Error('the daemon refused: no such image 127.0.0.1:1/none');
  },
};
class Refused extends pulumi.dynamic.Resource {
  constructor(name: string) {
    super(refusingProvider, name, { image: 'none' }, {});
  }
}

t.test('a preview of a change shows each changed input, old => new, and masks secrets', async (t) => {
  const dir = t.testdir();
  const target = { projectName: 'diff', stackName: 'box-1.guest', stateDir: t.testdir(), passphrase: 'p-0123456789' };
  const program = (content: string) => async () => {
    new LocalFile('notes', { path: `${dir}/notes.txt`, content });
    new LocalFile('password', { path: `${dir}/password.txt`, content: pulumi.secret(`${SECRET}-${content}`) as unknown as string });
  };

  // given a new stack, when previewed, then every input of each create is shown, secrets masked
  const first = await engine.run('preview', program('v1'), target);
  const notes = first.steps.find((step) => step.name === 'notes');
  t.match(notes, { op: 'create', type: 'pulumi-nodejs:dynamic:Resource', urn: /::notes$/ });
  t.match(notes?.changes.find((change) => change.path === 'content'), { kind: 'add', new: '"v1"' });
  t.notOk(notes?.changes.some((change) => change.path.startsWith('__')), 'the provider plumbing is not a change');
  const created = renderDiff(first.steps);
  t.ok(created.some((line) => /^ {2}\+ {2}pulumi-nodejs:dynamic:Resource {2}notes$/.test(line)), 'a create line: op, type, name');
  t.ok(created.some((line) => line.includes('+ content: "v1"')), 'the new input under it');
  t.notOk(JSON.stringify(first.steps).includes(SECRET), 'no secret in the steps');
  t.ok(created.some((line) => line.includes('+ content: "[secret]"')), 'the secret input is shown masked');

  // given it is up, when the content changes, then the preview shows the update old => new
  await engine.run('up', program('v1'), target);
  const second = await engine.run('preview', program('v2'), target);
  const lines = renderDiff(second.steps);
  t.ok(lines.some((line) => /^ {2}~ {2}pulumi-nodejs:dynamic:Resource {2}notes$/.test(line)), 'an update line');
  t.ok(lines.some((line) => line.includes('~ content: "v1" => "v2"')), 'the changed input, old => new');
  t.ok(lines.some((line) => line.includes('~ content: "[secret]" => "[secret]"')), 'a changed secret stays masked on both sides');
  t.ok(lines.some((line) => /^ +2 unchanged$/.test(line)), 'unchanged resources are counted (the stack and its provider)');
  t.notOk(lines.join('\n').includes(SECRET), 'no secret in the diff');
});

t.test('a failing resource is named with the engine diagnostic in the error and its details', async (t) => {
  const target = { projectName: 'diff', stackName: 'box-1.guest', stateDir: t.testdir(), passphrase: 'p-0123456789' };
  const error = await engine.run('up', async () => void new Refused('web-image'), target).catch((e: unknown) => e);
  t.type(error, EngineRunError);
  const failure = error as EngineRunError;
  t.equal(failure.code, 'EENGINE_RUN');
  t.match(failure.message, /^the engine failed: web-image \(pulumi-nodejs:dynamic:Resource\): .*no such image 127\.0\.0\.1:1\/none/);
  t.ok(failure.details.some((line) => /^error: web-image \(pulumi-nodejs:dynamic:Resource\): .*the daemon refused/.test(line)), 'the details name the resource');
  t.ok(failure.diagnostics.some((diagnostic) => diagnostic.urn?.endsWith('::web-image')), 'the diagnostic keeps its URN');
  t.notOk(failure.details.some((line) => /^error: engine: update failed$/.test(line)), 'the closing "update failed" is left out once a resource named the cause');
});

t.test('rendering rules', async (t) => {
  const urn = 'urn:pulumi:hb-0001.guest::felhom::felhom:guest:AppStack$docker:index/container:Container::photos-server';
  t.equal(urnName(urn), 'photos-server');
  t.equal(urnType(urn), 'docker:index/container:Container');
  t.same(parsePropertyPath('ports[0].external'), ['ports', 0, 'external']);
  t.same(parsePropertyPath('labels["traefik.enable"]'), ['labels', 'traefik.enable']);
  t.equal(displayValue({ '4dabf18193072939515e22adb298388d': '1b47061264138c4ac30d75fd1eb44270', value: SECRET }), '"[secret]"', 'a wire-form secret is masked');
  t.equal(displayValue('x'.repeat(400)).length, 160, 'a long value is cut');
  t.same(['create', 'update', 'delete', 'replace', 'read', 'import', 'same'].map(opSymbol), ['+', '~', '-', '+-', '>', '=', ' ']);

  const metadata = (fields: Partial<StepEventMetadata>): StepEventMetadata => ({ op: 'update', urn, type: 'docker:index/container:Container', provider: '', ...fields }) as StepEventMetadata;
  const oldInputs = { image: 'web@sha256:1', ports: [{ internal: 80, external: 8080 }], envs: ['A=1'], removed: 'x' };
  const newInputs = { image: 'web@sha256:2', ports: [{ internal: 80, external: 9090 }], envs: ['A=1'], added: true };
  const replace = stepFromMetadata(
    metadata({
      op: 'replace',
      keys: ['image'],
      old: { inputs: oldInputs } as never,
      new: { inputs: newInputs } as never,
      detailedDiff: { image: { diffKind: 'update-replace', inputDiff: true }, 'ports[0].external': { diffKind: 'update', inputDiff: true }, removed: { diffKind: 'delete', inputDiff: true }, added: { diffKind: 'add', inputDiff: true } } as never,
    }),
  );
  t.same(replace.changes, [
    { path: 'added', kind: 'add', replaces: false, new: 'true' },
    { path: 'image', kind: 'update', replaces: true, old: '"web@sha256:1"', new: '"web@sha256:2"' },
    { path: 'ports[0].external', kind: 'update', replaces: false, old: '8080', new: '9090' },
    { path: 'removed', kind: 'delete', replaces: false, old: '"x"' },
  ]);
  t.same(renderDiff([replace]), [
    '  +- docker:index/container:Container  photos-server  (replace)',
    '        + added: true',
    '        ~ image: "web@sha256:1" => "web@sha256:2"  (forces replacement)',
    '        ~ ports[0].external: 8080 => 9090',
    '        - removed: "x"',
  ]);
  const byKeys = stepFromMetadata(metadata({ diffs: ['image', 'added', 'removed'], old: { inputs: oldInputs } as never, new: { inputs: newInputs } as never }));
  t.same(byKeys.changes.map((change) => `${change.kind} ${change.path}`), ['add added', 'update image', 'delete removed'], 'top-level keys when the provider gives no detailed diff');
  t.same(stepFromMetadata(metadata({ op: 'delete', old: { inputs: oldInputs } as never })).changes, [], 'a delete lists no inputs');

  t.same(renderDiagnostics([{ severity: 'error', message: 'preview failed' }]), ['error: engine: preview failed'], 'alone, the engine line is kept');
  t.same(renderDiagnostics([{ severity: 'error', urn, message: 'a\n  b' }, { severity: 'error', urn, message: 'a b' }]), ['error: photos-server (docker:index/container:Container): a b'], 'one line per distinct diagnostic');
  const plain = new EngineRunError('the engine failed: something', { code: 'EENGINE_RUN' });
  t.equal(withDiagnostics(plain, []), plain, 'nothing to add');
  t.equal(withDiagnostics(plain, [{ severity: 'warning', urn, message: 'w' }]), plain, 'warnings alone change nothing');
  t.match(withDiagnostics(new EngineRunError('the engine failed: error: preview failed'), [{ severity: 'error', message: 'no daemon at unix:///x' }]), {
    message: 'the engine failed: engine: no daemon at unix:///x',
    details: ['error: engine: no daemon at unix:///x'],
  });
});
