// The entry program Pulumi.yaml names: the stack name picks box and tier, FELHOM_SPEC the spec.
import t from 'tap';
import { mocks } from '../helpers/mocks.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mainProgram, operatorEnvironment, parseStackName } from '../../stacks/operator-program.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const homeBox = join(projectRoot, 'examples', 'home-box.yaml');

t.test('a stack name is <box>.<tier>', async (t) => {
  t.same(parseStackName('hb-0001.host'), { box: 'hb-0001', tier: 'host' });
  t.same(parseStackName('cb-0007.guest'), { box: 'cb-0007', tier: 'guest' });
  for (const bad of ['hb-0001', 'hb-0001.core', '.host', 'dev']) {
    t.throws(() => parseStackName(bad), { message: /expected <box>\.<tier> with a tier of edge, host, guest/ }, `${bad} is refused`);
  }
});

t.test('the stack runs the tier program of the spec FELHOM_SPEC names', async (t) => {
  mocks.reset();
  await mainProgram('hb-0001.host', { FELHOM_SPEC: homeBox });
  await mocks.settle();
  t.ok(mocks.find('felhom:host:CustomerLxc').length > 0, 'the host tier registered its guests');
  t.equal(mocks.one('pulumi:providers:proxmoxve').version, '8.3.0', 'the explicit provider asks for the pinned plugin version');
  t.same(mocks.find('pulumi:providers:docker'), [], 'no other tier ran');
});

t.test('a missing FELHOM_SPEC or a spec of another box is refused naming it', async (t) => {
  await t.rejects(mainProgram('hb-0001.host', {}), /FELHOM_SPEC: set it to the box spec file/);
  await t.rejects(mainProgram('cb-0007.host', { FELHOM_SPEC: homeBox }), /FELHOM_SPEC names box hb-0001, but stack cb-0007\.host is box cb-0007/);
});

t.test('credentials in the operator environment replace the placeholders, as secrets', async (t) => {
  const env = operatorEnvironment({ FELHOM_PROXMOX_API_TOKEN: 'root@pam!op=11111111-2222-3333-4444-555555555555', DOCKER_HOST: 'unix:///run/d.sock' });
  t.equal(env.dockerHost, 'unix:///run/d.sock');
  const token = env.proxmoxApiToken!();
  t.ok(await (token as unknown as { isSecret: Promise<boolean> }).isSecret, 'the token stays a secret');
  t.ok(operatorEnvironment({}).cloudflareApiToken, 'without them the placeholders remain');
});
