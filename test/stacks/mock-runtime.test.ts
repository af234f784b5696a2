import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import * as cloudflare from '@pulumi/cloudflare';
import * as random from '@pulumi/random';
import { maskedInputs, MockRecorder, recordProgram, SECRET_MARKER, UNKNOWN_MARKER } from '../../stacks/mock-runtime.js';

// The recorder behind `felhom plan` and the component test harness (test/helpers/mocks.ts).

/** A custom resource that takes any inputs, to register shapes no provider SDK needs to have. */
class Thing extends pulumi.CustomResource {
  constructor(name: string, props: Record<string, pulumi.Input<unknown>>, opts?: pulumi.CustomResourceOptions) {
    super('test:index:Thing', name, props, opts);
  }
}

class Box extends pulumi.ComponentResource {
  constructor(name: string, build: (parent: Box) => void) {
    super('felhom:test:Box', name, {}, {});
    build(this);
    this.registerOutputs({});
  }
}

const options = { project: 'felhom', stack: 'unit' };
const SECRET_VALUE = 'hunter2-do-not-print';

t.test('given nested secrets, the plan masks exactly the secret values and records their paths', async (t) => {
  const { resources } = await recordProgram(() => {
    new Box('box', (parent) => {
      new Thing('app', {
        envs: ['PLAIN=1', pulumi.secret(`PASSWORD=${SECRET_VALUE}`)],
        environment: { TOKEN: pulumi.secret(SECRET_VALUE), MODE: 'on' },
        password: pulumi.secret(SECRET_VALUE),
      }, { parent });
    });
  }, options);
  const app = resources.find((resource) => resource.name === 'app')!;
  t.same([...app.secretPaths].sort(), ['environment.TOKEN', 'envs[1]', 'password']);
  t.same(app.inputs, { envs: ['PLAIN=1', SECRET_MARKER], environment: { TOKEN: SECRET_MARKER, MODE: 'on' }, password: SECRET_MARKER });
  t.notMatch(JSON.stringify(resources), SECRET_VALUE, 'no secret value anywhere in the records');
});

t.test('given a child of a component, the record names its parent and the parent type; records are sorted by URN', async (t) => {
  const { resources } = await recordProgram(() => {
    new Thing('zeta', {});
    new Box('box', (parent) => new Thing('alpha', { size: 1 }, { parent }));
  }, options);
  t.same(resources.map((resource) => resource.urn), [
    'urn:pulumi:unit::felhom::felhom:test:Box$test:index:Thing::alpha',
    'urn:pulumi:unit::felhom::felhom:test:Box::box',
    'urn:pulumi:unit::felhom::test:index:Thing::zeta',
  ]);
  const [alpha, box, zeta] = resources;
  t.match(alpha, { type: 'test:index:Thing', name: 'alpha', parent: 'box', parentType: 'felhom:test:Box', custom: true, inputs: { size: 1 } });
  t.match(box, { custom: false });
  t.notOk(zeta!.parent, 'a top-level resource has no parent');
});

t.test('given guard options, the record carries them', async (t) => {
  const { resources } = await recordProgram(() => {
    const disk = new Thing('disk', {});
    new Thing('data', {}, { protect: true, ignoreChanges: ['size'], replaceOnChanges: ['kind'], deleteBeforeReplace: true, retainOnDelete: true, dependsOn: [disk] });
  }, options);
  const data = resources.find((resource) => resource.name === 'data')!;
  t.same(data.options, {
    protect: true,
    ignoreChanges: ['size'],
    replaceOnChanges: ['kind'],
    deleteBeforeReplace: true,
    retainOnDelete: true,
    additionalSecretOutputs: [],
    dependencies: ['urn:pulumi:unit::felhom::test:index:Thing::disk'],
  });
  t.same(resources.find((resource) => resource.name === 'disk')!.options.deleteBeforeReplace, false, 'unset reads as false');
});

t.test('the plan shows realistic provider outputs: a UUID tunnel id, secret generated passwords, unknowns as computed', async (t) => {
  const { resources } = await recordProgram(() => {
    const tunnel = new cloudflare.ZeroTrustTunnelCloudflared('tunnel', { accountId: 'acc', name: 'tunnel', configSrc: 'cloudflare' });
    const password = new random.RandomPassword('pw', { length: 20 });
    const uuid = new random.RandomUuid('uuid');
    new Thing('uses', { target: pulumi.interpolate`${tunnel.id}.cfargotunnel.com`, password: password.result, later: uuid.result });
  }, options);
  const uses = resources.find((resource) => resource.name === 'uses')!;
  t.match(uses.inputs.target, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.cfargotunnel\.com$/);
  t.equal(uses.inputs.password, SECRET_MARKER, 'a generated password stays secret downstream');
  t.same(uses.secretPaths, ['password']);
  t.equal(uses.inputs.later, UNKNOWN_MARKER, 'an output no provider computed is unknown in a preview');
});

t.test('by default an invoke is answered permissively with its own inputs, and recorded', async (t) => {
  const recorder = new MockRecorder(options);
  recorder.install();
  const answer = await cloudflare.getZeroTrustTunnelCloudflaredToken({ accountId: 'acc', tunnelId: 'tun' });
  t.match(answer, { accountId: 'acc', tunnelId: 'tun' });
  t.same(recorder.calls, [{ token: 'cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken', inputs: { accountId: 'acc', tunnelId: 'tun' } }]);
});

t.test('given an invoke handler that refuses, the call fails', async (t) => {
  const recorder = new MockRecorder({
    ...options,
    onInvoke: (call) => {
      throw Object.assign(new Error(`refused ${call.token}`), { details: `refused ${call.token}` });
    },
  });
  recorder.install();
  await t.rejects(cloudflare.getZeroTrustTunnelCloudflaredToken({ accountId: 'acc', tunnelId: 'tun' }), /refused cloudflare:index\/getZeroTrustTunnelCloudflaredToken/);
  t.equal(recorder.calls.length, 1);
});

t.test('a recorder keeps secrets in the clear for tests, and reset forgets everything', async (t) => {
  const recorder = new MockRecorder(options);
  recorder.install();
  new Thing('app', { password: pulumi.secret(SECRET_VALUE) });
  await recorder.settle();
  t.match(recorder.registrations, [{ name: 'app', inputs: { password: SECRET_VALUE }, secretPaths: ['password'], parent: undefined, deleteBeforeReplace: undefined }]);
  recorder.reset();
  t.same(recorder.registrations, []);
  t.same(recorder.calls, []);
});

t.test('maskedInputs replaces only values at secret paths and leaves the inputs untouched', async (t) => {
  const inputs = { a: { b: 'secret', c: 'plain' }, list: ['x', 'secret'], whole: { deep: ['secret'] } };
  const masked = maskedInputs({ inputs, secretPaths: ['a.b', 'list[1]', 'whole'] });
  t.same(masked, { a: { b: SECRET_MARKER, c: 'plain' }, list: ['x', SECRET_MARKER], whole: SECRET_MARKER });
  t.same(inputs.a.b, 'secret', 'the recorded inputs are not changed');
});

t.test('given a renamed child with aliases, the registration carries what it was (docs/components.md#renaming-children)', async (t) => {
  const recorder = new MockRecorder(options);
  recorder.install();
  new Box('guest', (parent) => {
    new Thing('guest-vm', {}, { parent, aliases: [{ name: 'guest-container' }] });
    new Thing('guest-disk', {}, { parent, aliases: ['urn:pulumi:unit::felhom::test:index:Thing::old-disk'] });
  });
  new Thing('plain', {});
  await recorder.settle();
  const byName = (name: string) => recorder.registrations.find((registration) => registration.name === name)!;
  t.same(byName('guest-vm').aliases, [{ name: 'guest-container', parentUrn: 'urn:pulumi:unit::felhom::felhom:test:Box::guest' }], 'the old name, under the same parent');
  t.same(byName('guest-disk').aliases, [{ urn: 'urn:pulumi:unit::felhom::test:index:Thing::old-disk' }], 'an old URN');
  t.same(byName('plain').aliases, [], 'none when the option is not set');
});
