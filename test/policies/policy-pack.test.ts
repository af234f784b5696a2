/**
 * The compiled PolicyPack served the way the engine serves it: `run-policy-pack` in the pack
 * folder, then the engine's Analyzer gRPC calls. Needs `npm run build` (npm test runs it).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { RULES } from '../../policies/rules/index.js';
import { writePolicyBox } from '../../policies/pack.js';
import { homeBox } from '../helpers/box-spec.js';
import { find, plan, resourcesOf } from '../helpers/policies.js';

const require = createRequire(import.meta.url);
const pulumiRequire = createRequire(require.resolve('@pulumi/pulumi'));
const grpc = pulumiRequire('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
const analyzerRpc = require('@pulumi/pulumi/proto/analyzer_grpc_pb.js');
const analyzerProto = require('@pulumi/pulumi/proto/analyzer_pb.js');
const structProto = pulumiRequire('google-protobuf/google/protobuf/struct_pb.js');
const emptyProto = pulumiRequire('google-protobuf/google/protobuf/empty_pb.js');

const compiledPack = new URL('../../dist/policies/pack.js', import.meta.url);
const LXC = 'proxmoxve:index/containerLegacy:ContainerLegacy';

function call<T>(client: any, method: string, request: unknown): Promise<T> {
  return new Promise((resolve, reject) => client[method](request, (error: Error | null, response: T) => (error ? reject(error) : resolve(response))));
}

t.test('the compiled pack serves every rule and reports a violation to the engine over gRPC', async (t) => {
  t.ok(existsSync(compiledPack), 'dist/policies/pack.js exists (run npm run build)');
  const { policyPackDirectory } = (await import(compiledPack.href)) as typeof import('../../policies/pack.js');
  const directory = policyPackDirectory();
  const result = await plan(homeBox(), ['host']);
  const boxFile = join(mkdtempSync(join(tmpdir(), 'felhom-pack-')), 'box.json');
  await writePolicyBox(result.box, boxFile);

  const runPolicyPack = require.resolve('@pulumi/pulumi/cmd/run-policy-pack');
  // What pulumi-language-nodejs runs for a policy pack: node <run-policy-pack> <engine> <pack dir>, in the pack dir.
  const child = spawn(process.execPath, [runPolicyPack, '127.0.0.1:1', directory], { cwd: directory, env: { ...process.env, FELHOM_POLICY_BOX: boxFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill());
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [first] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit').then(() => { throw new Error(`policy pack exited: ${stderr}`); })])) as [Buffer];
  const port = Number(first.toString().trim().split('\n')[0]);
  t.ok(port > 0, `the pack printed its port (${first.toString().trim()})`);

  const client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const info = await call<any>(client, 'getAnalyzerInfo', new emptyProto.Empty());
  t.equal(info.getName(), 'felhom');
  t.same(info.getPoliciesList().map((p: any) => p.getName()), RULES.map((rule) => rule.name));

  const container = find(resourcesOf(result, 'host'), LXC, 'customer-container');
  const request = new analyzerProto.AnalyzeRequest();
  request.setType(container.type);
  request.setName(container.name);
  request.setUrn(container.urn);
  request.setProperties(structProto.Struct.fromJavaScript({ ...container.inputs, unprivileged: false }));
  const options = new analyzerProto.AnalyzerResourceOptions();
  options.setProtect(true);
  options.setParent('urn:pulumi:hb-0001.host::felhom::felhom:host:CustomerLxc::customer');
  request.setOptions(options);
  const response = await call<any>(client, 'analyze', request);
  const diagnostics = response.getDiagnosticsList().map((d: any) => ({ policy: d.getPolicyname(), message: d.getMessage(), mandatory: d.getEnforcementlevel() === analyzerProto.EnforcementLevel.MANDATORY }));
  t.same(diagnostics, [
    {
      policy: 'guest-hardening',
      // The engine shows the rule's description, then the violation's message.
      message: `${RULES.find((rule) => rule.name === 'guest-hardening')!.description}\n${LXC} "customer-container" is privileged (unprivileged: false): an escaped app would be root on the Proxmox host; set unprivileged: true`,
      mandatory: true,
    },
  ]);
});
