import t from 'tap';
import { loadManifest } from '../../templates/lib/catalog.js';
import { validateManifest } from '../../templates/lib/validate-manifest.js';

/** A valid manifest (the shipped Paperless-ngx one) as a plain object to modify. */
function paperless(): Record<string, any> {
  return structuredClone(loadManifest('paperless-ngx')) as unknown as Record<string, any>;
}

function problemsOf(modify: (manifest: Record<string, any>) => void) {
  const manifest = paperless();
  modify(manifest);
  return validateManifest(manifest);
}

t.test('the unmodified fixture is valid', async (t) => {
  t.same(validateManifest(paperless()), []);
});

t.test('an unknown field is an error at its path', async (t) => {
  t.same(problemsOf((m) => (m.services[1].imagee = 'x')), [
    { path: 'services[1].imagee', message: 'unknown field (expected one of: name, image, tag, digest, environment, command, entrypoint, role, ports, mounts, healthcheck, dependsOn, dependsOnCondition, capAdd, shmSizeMiB, resources, user, restart, tmpfs, readOnly, init)' },
  ]);
});

t.test('a volume with no class is an error that says which classes exist', async (t) => {
  t.same(problemsOf((m) => delete m.volumes[0].class), [
    { path: 'volumes[0].class', message: 'volume has no class: expected "hot" (DB, config, cache) or "bulk" (media, files)' },
  ]);
});

t.test('a duplicate service name points at both entries', async (t) => {
  const problems = problemsOf((m) => (m.services[1].name = 'broker'));
  t.match(problems, [{ path: 'services[1].name', message: 'duplicate service name "broker" (first at services[0])' }]);
});

t.test('an http entry on a port its service does not expose is refused', async (t) => {
  t.same(problemsOf((m) => (m.http.port = 8080)), [{ path: 'http.port', message: 'service "webserver" exposes no port 8080 (its ports: 8000)' }]);
  t.same(problemsOf((m) => (m.http.service = 'frontend')), [{ path: 'http.service', message: 'expected a service of this manifest, got "frontend"' }]);
});

t.test('every problem in one document is reported at once', async (t) => {
  const problems = problemsOf((m) => {
    m.services[2].image = 'ghcr.io/paperless-ngx/paperless-ngx:2.20.14';
    m.services[2].tag = 'latest';
    m.services[2].digest = 'sha256:abc';
    m.services[2].environment.PAPERLESS_URL = '${param.missing}';
    m.services[2].mounts[0].volume = 'nope';
    m.volumes[4].backup = { policy: 'none' };
    m.volumes[0].backup = { policy: 'file-level' };
    m.secrets[0].length = 8;
  });
  t.same(problems.map((problem) => problem.path).sort(), [
    'secrets[0].length',
    'services[2].digest',
    'services[2].environment.PAPERLESS_URL',
    'services[2].image',
    'services[2].mounts[0].volume',
    'services[2].tag',
    'volumes[0].backup',
    'volumes[3].name',
    'volumes[4].backup.reason',
  ]);
  t.ok(problems.some((problem) => problem.message === 'expected the tag in "tag", not in the image, got "ghcr.io/paperless-ngx/paperless-ngx:2.20.14"'));
  t.ok(problems.some((problem) => problem.message === 'unknown placeholder ${param.missing}: no parameter named "missing" is declared'));
  t.ok(problems.some((problem) => problem.message === 'volume "data" is not mounted by any service'));
});

t.test('dependency rules: unknown target, healthy without a healthcheck, cycles', async (t) => {
  t.match(problemsOf((m) => (m.services[2].dependsOn = ['db', 'nothing'])), [{ path: 'services[2].dependsOn[1]', message: 'expected a service of this manifest, got "nothing"' }]);
  t.match(problemsOf((m) => (m.services[2].dependsOnCondition = { broker: 'service_healthy' })), [
    { path: 'services[2].dependsOnCondition.broker', message: 'service_healthy needs a healthcheck on service "broker", which has none' },
  ]);
  t.match(problemsOf((m) => (m.services[1].dependsOn = ['webserver'])), [{ message: /^dependency cycle: / }]);
});

t.test('an unsafe capability and a floating tag are refused in a manifest too', async (t) => {
  const problems = problemsOf((m) => {
    m.services[0].capAdd = ['SYS_ADMIN'];
    m.services[0].tag = 'stable';
  });
  t.match(problems, [
    { path: 'services[0].tag', message: 'expected a pinned version, got the floating tag "stable"' },
    { path: 'services[0].capAdd[0]', message: /^capability SYS_ADMIN is not on the safe list/ },
  ]);
});

t.test('environment values must be strings so YAML numbers are never guessed', async (t) => {
  t.same(problemsOf((m) => (m.services[1].environment.PGPORT = 5432)), [
    { path: 'services[1].environment.PGPORT', message: 'expected a string (quote numbers and booleans in YAML), got number 5432' },
  ]);
});

t.test('exposed ports must be real ports of their service and carry a reason', async (t) => {
  t.match(problemsOf((m) => (m.exposedPorts = [{ service: 'webserver', port: 22, protocol: 'tcp', reason: 'ssh' }])), [
    { path: 'exposedPorts[0].port', message: 'service "webserver" exposes no port 22' },
  ]);
  t.match(problemsOf((m) => (m.exposedPorts = [{ service: 'webserver', port: 8000, protocol: 'sctp' }])), [
    { path: 'exposedPorts[0].reason', message: 'required field is missing' },
    { path: 'exposedPorts[0].protocol' },
  ]);
});

t.test('a document that is not a manifest at all', async (t) => {
  t.same(validateManifest('hello'), [{ path: '(document)', message: 'expected a mapping, got "hello"' }]);
  t.match(validateManifest({}), [{ path: 'apiVersion', message: 'required field is missing' }]);
});

t.test('the JSON Schema for editors declares exactly the fields the validator accepts', async (t) => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'templates', 'lib', 'manifest.schema.json'), 'utf8'));
  const manifest = paperless();
  t.same(Object.keys(schema.properties).sort(), [
    'apiVersion', 'backup', 'categories', 'description', 'exposedPorts', 'http', 'minMemoryMiB', 'name', 'parameters', 'secrets',
    'services', 'title', 'update', 'upstreamCompose', 'version', 'volumes', 'website',
  ]);
  t.equal(schema.properties.apiVersion.const, manifest.apiVersion);
  // Every root field the schema knows is accepted by the validator (none reported unknown).
  const everyField = Object.fromEntries(Object.keys(schema.properties).map((key) => [key, manifest[key]]));
  t.notOk(validateManifest(everyField).some((problem) => problem.message.startsWith('unknown field')));
  const serviceFields = Object.keys(schema.$defs.service.properties);
  const problems = validateManifest({ ...manifest, services: [Object.fromEntries(serviceFields.map((key) => [key, undefined])), ...manifest.services] });
  t.notOk(problems.some((problem) => problem.message.startsWith('unknown field')));
});

t.test('an environment value AppStack could not resolve is refused by the catalog too (one grammar)', async (t) => {
  t.match(problemsOf((m) => ((m.services[0].environment ??= {}).BROKEN = 'redis://${param.x')), [{ path: 'services[0].environment.BROKEN', message: /^malformed reference/ }]);
  t.match(problemsOf((m) => ((m.services[0].environment ??= {}).SHELL = '${HOME}/data')), [{ path: 'services[0].environment.SHELL', message: /^malformed reference/ }]);
  t.match(problemsOf((m) => ((m.services[0].environment ??= {}).KIND = '${env.HOME}')), [{ path: 'services[0].environment.KIND', message: /^unknown reference \$\{env\.HOME\}/ }]);
  t.same(problemsOf((m) => ((m.services[0].environment ??= {}).ESCAPED = '$${HOME}/data')), [], 'the escape stays valid');
});

t.test('a dependency cycle is reported once, at the service it starts from, with arrows', async (t) => {
  const problems = problemsOf((m) => {
    m.services[0].dependsOn = [m.services[1].name];
    m.services[1].dependsOn = [m.services[0].name];
  });
  t.equal(problems.filter((problem) => /dependency cycle/.test(problem.message)).length, 1);
});
