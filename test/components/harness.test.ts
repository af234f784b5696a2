import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';
import * as cloudflare from '@pulumi/cloudflare';
import { argsErrorFrom, isSecret, mockProvider, mocks, promiseOf } from '../helpers/mocks.js';

// The shared harness is itself code the component tests rely on: prove what it records.

t.beforeEach(() => mocks.reset());

class Parent extends pulumi.ComponentResource {
  constructor(name: string) {
    super('felhom:test:Parent', name, {}, {});
    new random.RandomPassword(`${name}-pw`, { length: 12 }, { parent: this, protect: true, ignoreChanges: ['length'], retainOnDelete: true });
    this.registerOutputs({});
  }
}

t.test('it records type, name, parent, inputs and resource options', async (t) => {
  new Parent('p');
  await mocks.settle();
  const child = mocks.one('random:index/randomPassword:RandomPassword', 'p-pw');
  const parent = mocks.one('felhom:test:Parent', 'p');
  t.equal(parent.custom, false);
  t.equal(child.custom, true);
  t.equal(child.parent, parent.urn);
  t.equal(child.urn, 'urn:pulumi:test::felhom::felhom:test:Parent$random:index/randomPassword:RandomPassword::p-pw');
  t.same(child.inputs, { length: 12 });
  t.equal(child.protect, true);
  t.same(child.ignoreChanges, ['length']);
  t.equal(child.retainOnDelete, true);
  t.same(mocks.childrenOf(parent).map((r) => r.name), ['p-pw']);
  t.same(mocks.childrenOf(parent.urn).map((r) => r.name), ['p-pw']);
});

t.test('it records the provider reference, dependencies, and leaves an unset deleteBeforeReplace undefined', async (t) => {
  const provider = mockProvider('random');
  const first = new random.RandomPassword('first', { length: 8 });
  new random.RandomPassword('second', { length: 8 }, { provider, dependsOn: [first] });
  await mocks.settle();
  const second = mocks.one('random:index/randomPassword:RandomPassword', 'second');
  t.match(second.provider, /^urn:pulumi:test::felhom::pulumi:providers:random::random-provider::/);
  t.same(second.dependencies, ['urn:pulumi:test::felhom::random:index/randomPassword:RandomPassword::first']);
  t.equal(second.deleteBeforeReplace, undefined);
  t.same(second.additionalSecretOutputs, ['bcryptHash', 'result']);
});

t.test('additionalSecretOutputs come back secret, as the engine makes them', async (t) => {
  const password = new random.RandomPassword('pw', { length: 8 });
  t.equal(await isSecret(password.result), true);
  t.equal(await promiseOf(password.result), 'pw-pwxxx');
});

t.test('a secret input is recorded with its path', async (t) => {
  new random.RandomPassword('pw', { length: 8, overrideSpecial: pulumi.secret('!') });
  await mocks.settle();
  t.same(mocks.one('random:index/randomPassword:RandomPassword').secretPaths, ['overrideSpecial']);
});

t.test('a secret inside a list or map is recorded at its own path, unwrapped', async (t) => {
  new random.RandomPassword('pw', { length: 8, keepers: { plain: 'a', hidden: pulumi.secret('b') } });
  await mocks.settle();
  const pw = mocks.one('random:index/randomPassword:RandomPassword');
  t.same(pw.secretPaths, ['keepers.hidden'], 'only the secret entry, not the whole map');
  t.same(pw.inputs.keepers, { plain: 'a', hidden: 'b' });
});

t.test('an undeclared provider call fails and is listed; a declared one is answered', async (t) => {
  const token = 'cloudflare:index/getZeroTrustTunnelCloudflaredToken:getZeroTrustTunnelCloudflaredToken';
  await t.rejects(cloudflare.getZeroTrustTunnelCloudflaredToken({ accountId: 'a', tunnelId: 't' }), /unexpected provider call/);
  t.same(mocks.unexpectedCalls, [token]);

  mocks.reset();
  mocks.onCall(token, (inputs) => ({ accountId: inputs.accountId, tunnelId: inputs.tunnelId, token: 'tok' }));
  const result = await cloudflare.getZeroTrustTunnelCloudflaredToken({ accountId: 'a', tunnelId: 't' });
  t.equal(result.token, 'tok');
  t.same(mocks.unexpectedCalls, []);
  t.same(mocks.recordedCalls, [{ token, inputs: { accountId: 'a', tunnelId: 't' } }]);
});

t.test('one() refuses zero or several matches; reset forgets everything', async (t) => {
  new random.RandomPassword('a', { length: 8 });
  new random.RandomPassword('b', { length: 8 });
  await mocks.settle();
  t.throws(() => mocks.one('random:index/randomPassword:RandomPassword'), /exactly one .* found 2/);
  t.throws(() => mocks.one('random:index/randomBytes:RandomBytes'), /found 0/);
  t.equal(mocks.find('random:index/randomPassword:RandomPassword').length, 2);
  mocks.reset();
  t.same(mocks.resources, []);
});

t.test('argsErrorFrom fails the test when nothing or the wrong error is thrown', async (t) => {
  const failures: string[] = [];
  const recorder = { type: (v: unknown, k: Function) => { if (!(v instanceof k)) failures.push('type'); }, equal: (a: unknown, b: unknown) => { if (a !== b) failures.push('equal'); }, fail: () => { failures.push('fail'); } };
  t.equal(argsErrorFrom(recorder, () => 1), undefined);
  t.same(failures, ['fail']);
  failures.length = 0;
  argsErrorFrom(recorder, () => { throw new Error('other'); });
  t.same(failures, ['type', 'equal']);
});
