import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unknownCheckingProxy, type ResourceValidationPolicy, type StackValidationPolicy } from '@pulumi/policy';
import { fromAnalyzer, loadPolicyBox, plainProps, POLICY_BOX_ENV, policyPackArgs, policyPackDirectory, PolicyBoxError, POLICY_PACK_PACKAGE_JSON, PULUMI_POLICY_YAML, writePolicyBox } from '../../policies/pack.js';
import { RULES } from '../../policies/rules/index.js';
import { homeBox } from '../helpers/box-spec.js';
import { find, plan, resourcesOf } from '../helpers/policies.js';

const UNKNOWN_STRING = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';
const LXC = 'proxmoxve:index/containerLegacy:ContainerLegacy';

class NotApplicable extends Error {}

/** What the analyzer hands validateResource, built from a planned record. */
function resourceArgs(resource: { type: string; name: string; urn: string; inputs: Record<string, unknown>; protect: boolean }, parent?: string) {
  return {
    type: resource.type,
    name: resource.name,
    urn: resource.urn,
    props: unknownCheckingProxy(structuredClone(resource.inputs)),
    opts: { protect: resource.protect, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], ...(parent ? { parent } : {}) },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: () => ({}),
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  } as never;
}

function policy(box: Parameters<typeof policyPackArgs>[0], name: string) {
  return policyPackArgs(box).policies.find((candidate) => candidate.name === name)! as ResourceValidationPolicy & StackValidationPolicy;
}

t.test('the pack has one policy per rule with the rule\'s name, description and level', async (t) => {
  const result = await plan(homeBox((spec) => (spec.spec.policy = { advisory: ['exposure'] })), ['host']);
  const args = policyPackArgs(result.box);
  t.same(args.policies.map((p) => p.name), RULES.map((rule) => rule.name));
  t.equal(policy(result.box, 'exposure').enforcementLevel, 'advisory', 'downgraded by the signed spec');
  t.equal(policy(result.box, 'guest-hardening').enforcementLevel, 'mandatory');
  t.equal(policy(result.box, 'guest-hardening').description, RULES.find((r) => r.name === 'guest-hardening')!.description);
});

t.test('validateResource reports the same violation as the offline check', async (t) => {
  const result = await plan(homeBox(), ['host']);
  const container = find(resourcesOf(result, 'host'), LXC, 'customer-container');
  const reported: string[] = [];
  await policy(result.box, 'guest-hardening').validateResource!(resourceArgs({ ...container, inputs: { ...container.inputs, unprivileged: false } }), (message) => void reported.push(message));
  t.same(reported, [`${LXC} "customer-container" is privileged (unprivileged: false): an escaped app would be root on the Proxmox host; set unprivileged: true`]);
  const none: string[] = [];
  await policy(result.box, 'guest-hardening').validateResource!(resourceArgs(container), (message) => void none.push(message));
  t.same(none, []);
});

t.test('values unknown during preview become markers instead of aborting the policy', async (t) => {
  const props = unknownCheckingProxy({ name: 'x', image: UNKNOWN_STRING, nested: [{ a: UNKNOWN_STRING }] });
  t.same(plainProps(props), { name: 'x', image: '[computed]', nested: [{ a: '[computed]' }] });
});

t.test('the parent type and name come from the URN and the parent option', async (t) => {
  const resource = fromAnalyzer({
    type: 'docker:index/container:Container',
    name: 'cloud-app',
    urn: 'urn:pulumi:hb-0001.guest::felhom::felhom:guest:AppStack$docker:index/container:Container::cloud-app',
    props: {},
    opts: { protect: false, parent: 'urn:pulumi:hb-0001.guest::felhom::felhom:guest:AppStack::cloud' },
  });
  t.equal(resource.parentType, 'felhom:guest:AppStack');
  t.equal(resource.parent, 'cloud');
  t.equal(resource.secretPaths, undefined, 'secretness is not visible to analyzer policies');
});

t.test('validateStack runs the stack checks over the analyzer\'s resources', async (t) => {
  const result = await plan(homeBox((spec) => spec.spec.guests.push({ name: 'second', vmId: 201 })), ['host']);
  const resources = resourcesOf(result, 'host')
    .filter((r) => r.type !== 'proxmoxve:backup/job:Job')
    .map((r) => ({ ...resourceArgs(r), props: structuredClone(r.inputs), opts: { protect: r.protect }, dependencies: [], propertyDependencies: {} }));
  const reported: [string, string | undefined][] = [];
  await policy(result.box, 'backups-are-real').validateStack({ resources, stackTags: new Map(), getConfig: () => ({}) as never, notApplicable: () => { throw new NotApplicable(); } } as never, (message, urn) => void reported.push([message, urn]));
  t.equal(reported.length, 2, 'both guests lack a backup job');
  t.match(reported[0]![1], /customer-container$/);
});

t.test('rules the analyzer cannot run are reported not applicable with the reason', async (t) => {
  const stackArgs = { resources: [], stackTags: new Map(), getConfig: () => ({}), notApplicable: (reason?: string): never => { throw new NotApplicable(reason); } } as never;
  t.throws(() => policy(undefined, 'no-plaintext-secrets').validateStack(stackArgs, () => {}), /unwraps secrets/);
  t.throws(() => policy(undefined, 'geo-matches-spec').validateStack(stackArgs, () => {}), new RegExp(`set ${POLICY_BOX_ENV}`));
});

t.test('the box context round-trips through FELHOM_POLICY_BOX', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'felhom-policy-box-'));
  const result = await plan(homeBox(), ['host']);
  const file = join(dir, 'box.json');
  await writePolicyBox(result.box, file);
  t.same(loadPolicyBox({ [POLICY_BOX_ENV]: file }), JSON.parse(JSON.stringify(result.box)));
  t.equal(loadPolicyBox({}), undefined);
  writeFileSync(join(dir, 'bad.json'), '{"not":"a box"}');
  const error = t.throws(() => loadPolicyBox({ [POLICY_BOX_ENV]: join(dir, 'bad.json') })) as PolicyBoxError;
  t.ok(error instanceof PolicyBoxError);
  t.equal(error.code, 'EPOLICY_BOX');
  t.throws(() => loadPolicyBox({ [POLICY_BOX_ENV]: join(dir, 'missing.json') }), { code: 'EPOLICY_BOX' });
});

t.test('the compiled pack directory gets PulumiPolicy.yaml and package.json next to the entry point', async (t) => {
  const compiled = new URL('../../dist/policies/pack.js', import.meta.url);
  t.ok(existsSync(compiled), 'dist/policies/pack.js exists (run npm run build)');
  const { policyPackDirectory: compiledDirectory } = (await import(compiled.href)) as { policyPackDirectory: typeof policyPackDirectory };
  const directory = compiledDirectory();
  t.ok(directory.endsWith(join('dist', 'policies', 'policy-pack')));
  t.equal(readFileSync(join(directory, 'PulumiPolicy.yaml'), 'utf8'), PULUMI_POLICY_YAML);
  t.match(PULUMI_POLICY_YAML, /^runtime: nodejs$/m);
  t.same(JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')), JSON.parse(POLICY_PACK_PACKAGE_JSON));
  t.ok(existsSync(join(directory, 'index.js')), 'the entry point is compiled there');
});
