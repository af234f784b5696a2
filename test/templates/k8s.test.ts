/**
 * The hub's Kubernetes manifests (templates/k8s/hub.yaml) validate against the Kubernetes API
 * schemas (kubernetes-models, generated from the upstream OpenAPI), and say what the hub
 * actually understands: its flags, its environment, its probe path.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Service, Namespace } from 'kubernetes-models/v1';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { DATABASE_URL_ENV } from '../../cli/commands/hub-serve.js';
import { OPERATOR_TOKEN_ENV } from '../../runner/hub/operator.js';
import { felhom } from '../helpers/cli.js';

const file = fileURLToPath(new URL('../../templates/k8s/hub.yaml', import.meta.url));
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

const docs = async () => parseAllDocuments(await readFile(file, 'utf8')).map((doc) => doc.toJS() as Doc);

t.test('every manifest is a valid Kubernetes object of a known kind', async (t) => {
  const all = await docs();
  t.ok(all.length >= 7);
  for (const doc of all) {
    const Model = models[`${doc.apiVersion}/${doc.kind}`];
    if (!Model) {
      t.fail(`no schema for ${doc.apiVersion} ${doc.kind}`);
      continue;
    }
    t.doesNotThrow(() => new Model(doc as never).validate(), `${doc.kind} ${doc.metadata.name}`);
    if (doc.kind !== 'Namespace') t.equal(doc.metadata.namespace, 'felhom-hub', `${doc.kind} ${doc.metadata.name} is in the hub's namespace`);
  }
});

t.test('the validator catches a wrong manifest', async (t) => {
  const deployment = (await docs()).find((doc) => doc.kind === 'Deployment')!;
  const broken = structuredClone(deployment) as Doc & { spec: { replicas: unknown } };
  broken.spec.replicas = 'two';
  t.throws(() => new Deployment(broken as never).validate());
});

t.test('the hub runs two replicas with TLS, its real flags and environment, and no secret in the file', async (t) => {
  const all = await docs();
  const text = await readFile(file, 'utf8');
  const deployment = all.find((doc) => doc.kind === 'Deployment') as unknown as {
    spec: { replicas: number; template: { spec: { containers: { args: string[]; env: { name: string; valueFrom?: unknown; value?: string }[]; readinessProbe: { httpGet: { path: string } } }[] } } };
  };
  t.ok(deployment.spec.replicas >= 2, 'several replicas');
  const [hub] = deployment.spec.template.spec.containers;
  const help = (await felhom(['hub', 'serve', '--help'])).stdout;
  for (const flag of hub!.args.filter((arg) => arg.startsWith('--'))) t.match(help, flag, `hub serve knows ${flag}`);
  t.ok(hub!.args.includes('--tls-cert') && hub!.args.includes('--tls-key'), 'TLS at the hub');
  t.same(
    hub!.env.map((env) => env.name),
    [DATABASE_URL_ENV, OPERATOR_TOKEN_ENV],
  );
  t.ok(
    hub!.env.every((env) => env.valueFrom !== undefined && env.value === undefined),
    'secrets come from Kubernetes secrets',
  );
  t.equal(hub!.readinessProbe.httpGet.path, '/v1/health');
  t.notMatch(text, /fho_|fhb_|password:\s*\S+[^}]\s*$/m, 'no token or password in the manifests');
});
