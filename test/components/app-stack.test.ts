import t from 'tap';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import {
  AppStack,
  TemplateError,
  appStackRules,
  bulkVolumeHostPath,
  dependencyConditions,
  dependencyOrder,
  dockerCapabilities,
  dockerTmpfs,
  imageReference,
  parseTemplate,
  renderTemplate,
  resolveParameters,
  traefikLabels,
  type AppStackArgs,
} from '../../components/app-stack.js';
import { checkRules } from '../../components/validation.js';
import { MANIFEST_API_VERSION, type AppManifest, type ServiceSpec } from '../../templates/lib/manifest.js';
import { loadCatalog, ManifestError, parseManifest } from '../../templates/lib/catalog.js';
import { renderDraft } from '../../templates/lib/compose-import.js';
import { validateManifest } from '../../templates/lib/validate-manifest.js';
import { stringify } from 'yaml';
import { importText } from '../helpers/compose.js';

const CONTAINER = 'docker:index/container:Container';
const DIGEST = `sha256:${'a1'.repeat(32)}`;

/** A photo app: a server with a hot DB volume and a bulk library, and its database. */
const manifest: AppManifest = {
  apiVersion: MANIFEST_API_VERSION,
  name: 'photos',
  title: 'Photos',
  description: 'A photo library',
  version: '1.2.3',
  http: { service: 'server', port: 2283 },
  services: [
    {
      name: 'server',
      image: 'ghcr.io/example/photos-server',
      tag: 'v1.2.3',
      digest: DIGEST,
      ports: [2283, 2284],
      environment: {
        DB_URL: 'postgres://photos:${secret.db-password}@${service.db}:5432/photos',
        PUBLIC_URL: 'https://${app.hostname}',
        UPLOAD_LIMIT: '${param.upload-limit}',
        TZ: 'Europe/Budapest',
      },
      mounts: [
        { volume: 'library', path: '/data/library' },
        { volume: 'config', path: '/config', readOnly: true },
      ],
      healthcheck: { test: ['CMD', 'curl', '-f', 'http://localhost:2283/api/ping'], intervalSeconds: 15, retries: 5 },
      dependsOn: ['db'],
      resources: { memoryMiB: 1024, memoryReservationMiB: 512, cpus: 1.5 },
      tmpfs: { '/tmp': 64 },
    },
    {
      name: 'db',
      image: 'postgres',
      tag: '16',
      environment: { POSTGRES_PASSWORD: '${secret.db-password}', POSTGRES_USER: 'photos' },
      mounts: [{ volume: 'db', path: '/var/lib/postgresql/data' }],
      restart: 'always',
      user: '999:999',
      command: ['postgres', '-c', 'shared_buffers=128MB'],
    },
  ],
  volumes: [
    { name: 'db', class: 'hot' },
    { name: 'config', class: 'hot' },
    { name: 'library', class: 'bulk', backup: { policy: 'file-level' } },
  ],
  parameters: [
    { name: 'upload-limit', description: 'Max upload', type: 'string', default: '2G' },
    { name: 'admin-email', description: 'Admin e-mail', type: 'string', required: false },
  ],
  secrets: [
    { name: 'db-password', length: 24 },
    { name: 'jwt', charset: 'hex', length: 64 },
    { name: 'cookie', charset: 'base64', length: 40 },
  ],
  exposedPorts: [{ service: 'server', port: 2284, protocol: 'udp', reason: 'discovery' }],
};

const baseArgs: AppStackArgs = {
  instanceName: 'photos',
  manifest,
  hostname: 'photos.example.com',
  placement: { library: { kind: 'bind', hostPath: bulkVolumeHostPath('usb1', 'photos', 'library') } },
};

function withArgs(patch: Partial<AppStackArgs>): AppStackArgs {
  return { ...baseArgs, ...patch };
}

function withManifest(patch: Partial<AppManifest>): AppStackArgs {
  return withArgs({ manifest: { ...manifest, ...patch } });
}

function labelsOf(inputs: Record<string, any>): Record<string, string> {
  return Object.fromEntries((inputs.labels as { label: string; value: string }[]).map((l) => [l.label, l.value]));
}

t.beforeEach(() => mocks.reset());

t.test('templates: references parse, render, and unknown ones are refused', async (t) => {
  const parts = parseTemplate('a ${param.x} b ${secret.y}${service.db} ${app.hostname}');
  t.same(parts, [
    { literal: 'a ' },
    { ref: { kind: 'param', name: 'x' } },
    { literal: ' b ' },
    { ref: { kind: 'secret', name: 'y' } },
    { ref: { kind: 'service', name: 'db' } },
    { literal: ' ' },
    { ref: { kind: 'app', name: 'hostname' } },
  ]);
  t.equal(renderTemplate(parts, (ref) => `<${ref.kind}:${ref.name}>`), 'a <param:x> b <secret:y><service:db> <app:hostname>');
  t.throws(() => parseTemplate('${env.HOME}'), TemplateError, 'an unknown kind');
  t.throws(() => parseTemplate('${app.name}'), TemplateError, 'app has only hostname');
  t.throws(() => parseTemplate('${param.x'), TemplateError, 'an unclosed reference');
  t.same(parseTemplate('plain'), [{ literal: 'plain' }]);
});

t.test('templates: $$ is a literal $, so $${ writes a literal ${ and is not a reference', async (t) => {
  t.same(parseTemplate('$${HOME}/data'), [{ literal: '${HOME}/data' }], 'an escaped shell variable');
  t.same(parseTemplate('$${param.x} is ${param.x}'), [{ literal: '${param.x} is ' }, { ref: { kind: 'param', name: 'x' } }], 'an escaped reference stays text');
  t.same(parseTemplate('price $$5, $${oops'), [{ literal: 'price $5, ${oops' }], 'an escaped brace needs no closing one');
  t.same(parseTemplate('$$$${A}'), [{ literal: '$${A}' }], 'each $$ is one $');
  t.same(parseTemplate('$$${param.x}'), [{ literal: '$' }, { ref: { kind: 'param', name: 'x' } }], 'a $ before a reference');
  t.same(parseTemplate('cost: $5'), [{ literal: 'cost: $5' }], 'a single $ is left alone');
  t.throws(() => parseTemplate('$${ok} ${param.x'), TemplateError, 'an unclosed reference after an escape is still refused');
  t.throws(() => parseTemplate('${HOME}'), TemplateError, 'an unescaped shell variable is refused');
});

t.test('helpers: image references, parameters, dependency order and Traefik labels', async (t) => {
  t.equal(imageReference({ image: 'postgres', tag: '16' }), 'postgres:16');
  t.equal(imageReference({ image: 'ghcr.io/x/y', tag: 'v1', digest: DIGEST }), `ghcr.io/x/y@${DIGEST}`);
  t.same(resolveParameters(manifest), { 'upload-limit': '2G' });
  t.same(resolveParameters(manifest, { 'upload-limit': '5G', 'admin-email': 'a@b.c' }), { 'upload-limit': '5G', 'admin-email': 'a@b.c' });
  t.same(dependencyOrder(manifest.services).map((s) => s.name), ['db', 'server']);
  t.throws(
    () => dependencyOrder([{ name: 'a', image: 'a', tag: '1', dependsOn: ['b'] }, { name: 'b', image: 'b', tag: '1', dependsOn: ['a'] }]),
    TemplateError,
  );
  t.same(traefikLabels('app', 'app.example.com', 8080, 'web', 'traefik', '/ui'), {
    'traefik.enable': 'true',
    'traefik.docker.network': 'traefik',
    'traefik.http.routers.app.rule': 'Host(`app.example.com`) && PathPrefix(`/ui`)',
    'traefik.http.routers.app.entrypoints': 'web',
    'traefik.http.routers.app.service': 'app',
    'traefik.http.services.app.loadbalancer.server.port': '8080',
  });
  t.equal(bulkVolumeHostPath('usb1', 'photos', 'library'), '/mnt/bulk/usb1/photos/library');
  t.same(dockerCapabilities(['chown', 'CAP_SETUID', 'SETUID', 'net_bind_service']), ['CAP_CHOWN', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE'], 'Docker\'s stored form, each once');
  t.same(dockerTmpfs({ '/tmp': 64, '/run': 8 }), { '/tmp': 'size=64m', '/run': 'size=8m' });
  t.same(dependencyConditions({ dependsOn: ['db', 'redis'], dependsOnCondition: { db: 'service_healthy' } }), { db: 'service_healthy', redis: 'service_started' });
  t.same(dependencyConditions({}), {});
});

t.test('given the photo app, exactly the expected children are created', async (t) => {
  const app = new AppStack('photos', baseArgs);
  await mocks.settle();
  t.same(mocks.inventory(), [
    'docker:index/container:Container::photos-db',
    'docker:index/container:Container::photos-server',
    'docker:index/network:Network::photos-network',
    'docker:index/remoteImage:RemoteImage::photos-image-db',
    'docker:index/remoteImage:RemoteImage::photos-image-server',
    'docker:index/volume:Volume::photos-volume-config',
    'docker:index/volume:Volume::photos-volume-db',
    'felhom:guest:AppStack::photos',
    'random:index/randomBytes:RandomBytes::photos-secret-cookie',
    'random:index/randomBytes:RandomBytes::photos-secret-jwt',
    'random:index/randomPassword:RandomPassword::photos-secret-db-password',
  ]);
  const component = mocks.one('felhom:guest:AppStack');
  t.same(mocks.childrenOf(component).length, 10, 'every resource is a child of the component');
  t.equal(await promiseOf(app.networkName), 'photos');
  t.same(await promiseOf(app.containerNames), { server: 'photos-server', db: 'photos-db' });
  t.equal(await promiseOf(app.url), 'https://photos.example.com/');
});

t.test('images are pinned by digest where the manifest pins them, and kept on delete', async (t) => {
  new AppStack('photos', baseArgs);
  await mocks.settle();
  t.same(mocks.one('docker:index/remoteImage:RemoteImage', 'photos-image-server').inputs, { name: `ghcr.io/example/photos-server@${DIGEST}`, keepLocally: true });
  t.same(mocks.one('docker:index/remoteImage:RemoteImage', 'photos-image-db').inputs, { name: 'postgres:16', keepLocally: true });
});

t.test('hot volumes are named Docker volumes retained on delete; bulk volumes are bind mounts', async (t) => {
  new AppStack('photos', baseArgs);
  await mocks.settle();
  const db = mocks.one('docker:index/volume:Volume', 'photos-volume-db');
  t.equal(db.inputs.name, 'photos_db');
  t.equal(db.retainOnDelete, true, 'removing an app never deletes its data');
  t.match(labelsOf(db.inputs), { 'felhom.volume': 'db', 'felhom.volume-class': 'hot', 'felhom.instance': 'photos' });
  t.same(mocks.find('docker:index/volume:Volume', 'photos-volume-library'), [], 'no Docker volume for the bulk library');
  const server = mocks.one(CONTAINER, 'photos-server');
  t.same(server.inputs.volumes, [
    { hostPath: '/mnt/bulk/usb1/photos/library', containerPath: '/data/library', readOnly: false },
    { volumeName: 'photos_config', containerPath: '/config', readOnly: true },
  ]);
});

t.test('the HTTP entry service gets Traefik routing and the traefik network; the database does not', async (t) => {
  new AppStack('photos', baseArgs);
  await mocks.settle();
  const server = mocks.one(CONTAINER, 'photos-server');
  t.match(labelsOf(server.inputs), {
    'traefik.enable': 'true',
    'traefik.http.routers.photos.rule': 'Host(`photos.example.com`)',
    'traefik.http.routers.photos.entrypoints': 'web',
    'traefik.http.services.photos.loadbalancer.server.port': '2283',
    'traefik.docker.network': 'traefik',
    'felhom.app': 'photos',
    'felhom.service': 'server',
  });
  t.same(server.inputs.networksAdvanced, [{ name: 'photos', aliases: ['server'] }, { name: 'traefik' }]);
  const db = mocks.one(CONTAINER, 'photos-db');
  t.notOk('traefik.enable' in labelsOf(db.inputs), 'the database is not routed');
  t.same(db.inputs.networksAdvanced, [{ name: 'photos', aliases: ['db'] }], 'the database is only on the app network');
});

t.test('containers get restart policy, limits, health check, user, command, tmpfs and exposed ports', async (t) => {
  new AppStack('photos', baseArgs);
  await mocks.settle();
  const server = mocks.one(CONTAINER, 'photos-server');
  t.match(server.inputs, {
    name: 'photos-server',
    restart: 'unless-stopped',
    memory: 1024,
    memoryReservation: 512,
    cpus: '1.5',
    tmpfs: { '/tmp': 'size=64m' },
    healthcheck: { tests: ['CMD', 'curl', '-f', 'http://localhost:2283/api/ping'], interval: '15s', timeout: '10s', retries: 5, startPeriod: '60s' },
    wait: true,
    waitTimeout: 60 + 15 * 6,
    ports: [{ internal: 2284, external: 2284, protocol: 'udp' }],
  });
  t.match(server.inputs.image, /^sha256:/, 'the container runs the pulled image id');
  const db = mocks.one(CONTAINER, 'photos-db');
  t.match(db.inputs, { name: 'photos-db', restart: 'always', user: '999:999', command: ['postgres', '-c', 'shared_buffers=128MB'] });
  t.notOk('healthcheck' in db.inputs, 'no health check when the manifest has none');
  t.notOk('ports' in db.inputs);
  t.ok(server.dependencies.some((urn) => urn.endsWith('::photos-db')), 'the server waits for the database container');
});

t.test('environment references are substituted; values holding a secret are secret', async (t) => {
  new AppStack('photos', withArgs({ parameters: { 'upload-limit': '5G' } }));
  await mocks.settle();
  const server = mocks.one(CONTAINER, 'photos-server');
  const password = mocks.one('random:index/randomPassword:RandomPassword').inputs;
  t.same(password, { length: 24, special: false }, 'alphanumeric secrets come from RandomPassword');
  const envs = server.inputs.envs as string[];
  t.ok(envs.includes('PUBLIC_URL=https://photos.example.com'));
  t.ok(envs.includes('UPLOAD_LIMIT=5G'));
  t.ok(envs.includes('TZ=Europe/Budapest'));
  const dbUrl = envs.find((e) => e.startsWith('DB_URL='));
  // The mock's password is the resource name cut to the requested 24 characters.
  t.equal(dbUrl, 'DB_URL=postgres://photos:pw-photos-secret-db-pass@photos-db:5432/photos', 'secret and service name substituted');
  t.same(server.secretPaths, [`envs[${envs.indexOf(dbUrl!)}]`], 'the entry holding a secret reaches Docker as a secret, and only it');
  const db = mocks.one(CONTAINER, 'photos-db');
  t.same(db.secretPaths, [`envs[${(db.inputs.envs as string[]).findIndex((e) => e.startsWith('POSTGRES_PASSWORD='))}]`]);
});

t.test('hex and base64 secrets come from RandomBytes and are cut to length', async (t) => {
  new AppStack('photos', baseArgs);
  await mocks.settle();
  t.same(mocks.one('random:index/randomBytes:RandomBytes', 'photos-secret-jwt').inputs, { length: 32 });
  t.same(mocks.one('random:index/randomBytes:RandomBytes', 'photos-secret-cookie').inputs, { length: 30 });
});

t.test('given an app without secrets, the environment is plain', async (t) => {
  const plain = withManifest({
    secrets: [],
    http: undefined,
    volumes: [],
    exposedPorts: [],
    services: [{ name: 'web', image: 'nginx', tag: '1.27', environment: { A: '${param.upload-limit}' } }],
  });
  new AppStack('static', { ...plain, instanceName: 'static', placement: {} });
  await mocks.settle();
  const web = mocks.one(CONTAINER, 'static-web');
  t.same(web.inputs.envs, ['A=2G']);
  t.same(web.secretPaths, [], 'nothing secret, nothing hidden');
  t.same(web.inputs.networksAdvanced, [{ name: 'static', aliases: ['web'] }], 'no http entry: not on the traefik network');
});

t.test('given another traefik network and entrypoint, the routing uses them', async (t) => {
  new AppStack('photos', withArgs({ traefikNetwork: 'edge', entrypoint: 'websecure' }));
  await mocks.settle();
  const server = mocks.one(CONTAINER, 'photos-server');
  t.match(labelsOf(server.inputs), { 'traefik.docker.network': 'edge', 'traefik.http.routers.photos.entrypoints': 'websecure' });
  t.same(server.inputs.networksAdvanced[1], { name: 'edge' });
});

/** A Nextcloud-shaped app: a web app, its cron worker, a database and a cache. */
const cloud: AppManifest = {
  apiVersion: MANIFEST_API_VERSION,
  name: 'cloud',
  title: 'Cloud',
  description: 'Files',
  version: '31.0.8',
  http: { service: 'app', port: 80 },
  services: [
    {
      name: 'app',
      image: 'nextcloud',
      tag: '31.0.8-apache',
      ports: [80],
      environment: { POSTGRES_HOST: '${service.db}', OVERWRITECLIURL: 'https://${app.hostname}', PHP_HINT: 'use $${PHP_MEMORY_LIMIT}' },
      healthcheck: { test: ['CMD-SHELL', 'curl -fsS http://localhost/status.php'], startPeriodSeconds: 300 },
      dependsOn: ['db', 'redis'],
      dependsOnCondition: { db: 'service_healthy' },
    },
    { name: 'cron', image: 'nextcloud', tag: '31.0.8-apache', entrypoint: ['/cron.sh'], dependsOn: ['app', 'db'], dependsOnCondition: { app: 'service_started' } },
    {
      name: 'db',
      image: 'postgres',
      tag: '16',
      healthcheck: { test: ['CMD', 'pg_isready'], intervalSeconds: 10, retries: 5, startPeriodSeconds: 20 },
      shmSizeMiB: 128,
      capAdd: ['chown', 'CAP_SETUID', 'SETUID'],
      tmpfs: { '/run/postgresql': 8, '/tmp': 64 },
    },
    { name: 'redis', image: 'redis', tag: '7' },
  ],
};

function withService(name: string, patch: Partial<ServiceSpec>): AppStackArgs {
  return { instanceName: 'cloud', hostname: 'cloud.example.com', manifest: { ...cloud, services: cloud.services.map((s) => (s.name === name ? { ...s, ...patch } : s)) } };
}

t.test('entrypoint, /dev/shm, capabilities and tmpfs reach the docker containers exactly', async (t) => {
  new AppStack('cloud', withService('db', {}));
  await mocks.settle();
  const cron = mocks.one(CONTAINER, 'cloud-cron');
  t.same(cron.inputs.entrypoints, ['/cron.sh'], 'the cron worker runs /cron.sh instead of the image\'s entrypoint');
  t.notOk('command' in cron.inputs, 'the command stays the image\'s');
  const db = mocks.one(CONTAINER, 'cloud-db');
  t.equal(db.inputs.shmSize, 128, 'shmSize is in MB, the provider sends MB × 1024 × 1024 bytes: the manifest\'s MiB as is');
  t.same(db.inputs.capabilities, { adds: ['CAP_CHOWN', 'CAP_SETUID'] }, 'capabilities added in Docker\'s form, each once, none dropped');
  t.same(db.inputs.tmpfs, { '/run/postgresql': 'size=8m', '/tmp': 'size=64m' });
  for (const field of ['entrypoints', 'shmSize', 'capabilities', 'tmpfs']) {
    t.notOk(field in mocks.one(CONTAINER, 'cloud-redis').inputs, `no ${field} where the manifest sets none: Docker's default`);
  }
});

t.test('given an empty capAdd, no capabilities block is sent', async (t) => {
  new AppStack('cloud', withService('db', { capAdd: [] }));
  await mocks.settle();
  t.notOk('capabilities' in mocks.one(CONTAINER, 'cloud-db').inputs);
});

t.test('$${ in an environment value reaches the container as a literal ${', async (t) => {
  t.same(checkRules(appStackRules, withService('app', {})), [], 'the escape passes validation');
  new AppStack('cloud', withService('app', {}));
  await mocks.settle();
  const envs = mocks.one(CONTAINER, 'cloud-app').inputs.envs as string[];
  t.same(envs, ['POSTGRES_HOST=cloud-db', 'OVERWRITECLIURL=https://cloud.example.com', 'PHP_HINT=use ${PHP_MEMORY_LIMIT}']);
});

t.test('service_healthy: the dependent is created after the dependency, which waits until healthy', async (t) => {
  new AppStack('cloud', withService('db', {}));
  await mocks.settle();
  const db = mocks.one(CONTAINER, 'cloud-db');
  t.match(db.inputs, { wait: true, waitTimeout: 20 + 10 * 6 }, 'the database container is only created once healthy');
  const app = mocks.one(CONTAINER, 'cloud-app');
  t.same(app.dependencies.filter((urn) => urn.includes('docker:index/container:Container')).map((urn) => urn.split('::').pop()).sort(), ['cloud-db', 'cloud-redis']);
  const cron = mocks.one(CONTAINER, 'cloud-cron');
  t.same(cron.dependencies.filter((urn) => urn.includes('docker:index/container:Container')).map((urn) => urn.split('::').pop()).sort(), ['cloud-app', 'cloud-db'], 'service_started and unconditioned entries order creation too');
  const redis = mocks.one(CONTAINER, 'cloud-redis');
  t.notOk('wait' in redis.inputs, 'a dependency without a health check is only started, as Compose\'s service_started');
});

t.test('every catalog manifest passes the AppStack rules and plans one container per service', async (t) => {
  const catalog = loadCatalog();
  t.ok(catalog.size >= 12, 'the whole catalog is read');
  for (const [name, appManifest] of catalog) {
    const parameters = Object.fromEntries(
      (appManifest.parameters ?? []).filter((p) => p.required && p.default === undefined).map((p) => [p.name, p.type === 'number' ? 1 : p.type === 'boolean' ? true : 'value']),
    );
    const args: AppStackArgs = { instanceName: name, manifest: appManifest, hostname: `${name}.example.com`, parameters };
    t.same(checkRules(appStackRules, args), [], `${name}: no rule breaks`);
    mocks.reset();
    new AppStack(name, args);
    await mocks.settle();
    t.same(mocks.find(CONTAINER).map((c) => c.name).sort(), appManifest.services.map((s) => `${name}-${s.name}`).sort(), `${name}: one container per service`);
  }
});

const broken: [string, AppStackArgs, string, RegExp][] = [
  ['an upper-case instance name', withArgs({ instanceName: 'Photos' }), 'instanceName', /lower-case name.*got "Photos"/],
  ['a bad hostname', withArgs({ hostname: 'photos_example' }), 'hostname', /DNS hostname/],
  ['a manifest without services', withManifest({ services: [], http: undefined }), 'manifest', /services: expected at least one entry, got an empty list/],
  ['an http entry naming no service', withManifest({ http: { service: 'api', port: 80 } }), 'manifest', /http\.service: expected a service of this manifest, got "api"/],
  ['a bad digest', withManifest({ services: [{ ...manifest.services[0]!, digest: 'sha256:abc' }, manifest.services[1]!] }), 'manifest', /services\[0\]\.digest: expected sha256: followed by 64 hex digits/],
  ['a mount of an undeclared volume', withManifest({ services: [manifest.services[0]!, { ...manifest.services[1]!, mounts: [{ volume: 'cache', path: '/c' }] }] }), 'manifest', /services\[1\]\.mounts\[0\]\.volume: expected a volume declared in volumes, got "cache"/],
  ['a dependency on an unknown service', withManifest({ services: [{ ...manifest.services[0]!, dependsOn: ['redis'] }, manifest.services[1]!] }), 'manifest', /services\[0\]\.dependsOn\[0\]: expected a service of this manifest, got "redis"/],
  ['an unknown secret reference', withManifest({ services: [manifest.services[0]!, { ...manifest.services[1]!, environment: { X: '${secret.nope}' } }] }), 'manifest.services[].environment', /unknown placeholder \$\{secret\.nope\}: no secret named "nope" is declared/],
  ['an unknown reference kind', withManifest({ services: [manifest.services[0]!, { ...manifest.services[1]!, environment: { X: '${env.HOME}' } }] }), 'manifest.services[].environment', /unknown reference/],
  ['an undeclared parameter', withArgs({ parameters: { colour: 'red' } }), 'parameters', /colour: unknown parameter of photos/],
  ['a parameter of the wrong type', withArgs({ parameters: { 'upload-limit': 5 } }), 'parameters', /upload-limit: expected a string, got number/],
  ['a hot volume as a bind mount', withArgs({ placement: { db: { kind: 'bind', hostPath: '/mnt/bulk/usb1/photos/db' } } }), 'placement', /db: hot volume "db" must stay on the guest root filesystem/],
  ['a bind path outside /mnt/bulk', withArgs({ placement: { library: { kind: 'bind', hostPath: '/srv/library' } } }), 'placement', /under \/mnt\/bulk\/<storage>\/<instance>\/<volume>, got "\/srv\/library"/],
  ['a placement for an unknown volume', withArgs({ placement: { media: { kind: 'docker-volume' } } }), 'placement', /media: photos has no volume "media"/],
  ['an empty traefik network', withArgs({ traefikNetwork: '' }), 'traefikNetwork', /Docker network name/],
  ['an empty entrypoint', withService('cron', { entrypoint: [] }), 'manifest', /services\[1\]\.entrypoint: expected at least one entry, got an empty list/],
  ['a /dev/shm size of zero', withService('db', { shmSizeMiB: 0 }), 'manifest', /services\[2\]\.shmSizeMiB: expected an integer >= 1 <= 65536, got number 0/],
  ['a fractional /dev/shm size', withService('db', { shmSizeMiB: 1.5 }), 'manifest', /shmSizeMiB: .*got number 1\.5/],
  ['a capability off the safe list', withService('db', { capAdd: ['CHOWN', 'SYS_ADMIN'] }), 'manifest', /services\[2\]\.capAdd\[1\]: capability SYS_ADMIN is not on the safe list \(.*\)/],
  ['a relative tmpfs path', withService('db', { tmpfs: { tmp: 64 } }), 'manifest', /services\[2\]\.tmpfs\.tmp: expected an absolute path as the key/],
  ['a tmpfs without size', withService('db', { tmpfs: { '/tmp': 0 } }), 'manifest', /services\[2\]\.tmpfs\["\/tmp"\]: expected an integer >= 1, got number 0/],
  ['a condition for a service not in dependsOn', withService('cron', { dependsOnCondition: { redis: 'service_started' } }), 'manifest', /services\[1\]\.dependsOnCondition\.redis: unknown field \(expected one of: app, db\)/],
  ['service_healthy on a service without health check', withService('app', { dependsOnCondition: { redis: 'service_healthy' } }), 'manifest', /dependsOnCondition\.redis: service_healthy needs a healthcheck on service "redis", which has none/],
  ['service_completed_successfully', withService('cron', { dependsOnCondition: { db: 'service_completed_successfully' } }), 'manifest', /dependsOnCondition\.db: service_completed_successfully is not supported/],
  ['an unknown condition', withService('cron', { dependsOnCondition: { db: 'service_ready' as never } }), 'manifest', /dependsOnCondition\.db: expected service_started or service_healthy, got "service_ready"/],
  ['a bad entrypoint', withArgs({ entrypoint: ':80' }), 'entrypoint', /entrypoint name/],
];

for (const [what, args, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(appStackRules, args);
    t.equal(problems.length, 1, 'exactly one rule breaks');
    t.equal(problems[0]?.field, field);
    t.match(problems[0]?.message, message);
  });
}

t.test('the catalog and AppStack agree on service_completed_successfully: the catalog refuses the manifest, and AppStack with the same problems', async (t) => {
  // Given the cron worker waiting for the database to finish, as a one-shot container would.
  const refused = withService('cron', { dependsOnCondition: { db: 'service_completed_successfully' as never } });
  // When the catalog loads the manifest's file, and AppStack checks its arguments.
  const error = t.throws(() => parseManifest(stringify(refused.manifest), 'cloud/.felhom.yml', 'cloud')) as ManifestError;
  const problems = checkRules(appStackRules, refused);
  // Then both refuse it, for the same reason, in the same words.
  t.type(error, ManifestError);
  t.same(error.details, ['services[1].dependsOnCondition.db: service_completed_successfully is not supported (a one-shot container\'s exit code cannot fail a deploy); expected service_started or service_healthy']);
  t.same(problems, [{ field: 'manifest', message: error.details.join('; ') }]);
  // And with service_started, which the platform can honour, both accept it.
  const accepted = withService('cron', { dependsOnCondition: { db: 'service_started' } });
  t.same(parseManifest(stringify(accepted.manifest), 'cloud/.felhom.yml', 'cloud'), accepted.manifest);
  t.same(checkRules(appStackRules, accepted), []);
});

t.test('a Compose file with service_completed_successfully imports to a draft the catalog and AppStack both accept', async (t) => {
  const result = importText('services:\n  migrate:\n    image: example.org/app:1.0\n  app:\n    image: example.org/app:1.0\n    depends_on:\n      migrate: { condition: service_completed_successfully }\n');
  t.same(result.draftProblems, [], 'the draft passes the catalog validator');
  const manifest = parseManifest(renderDraft(result, 'compose.yml'), 'sample/.felhom.yml', 'sample');
  t.same(manifest.services.find((s) => s.name === 'app')?.dependsOn, ['migrate']);
  t.notOk(manifest.services.find((s) => s.name === 'app')?.dependsOnCondition, 'service_started, Compose\'s default, needs no condition');
  t.same(checkRules(appStackRules, { instanceName: 'sample', hostname: 'sample.example.com', manifest }), [], 'AppStack accepts what the catalog accepts');
});

t.test('every manifest the AppStack rules refuse, the catalog validator refuses too; every one they accept, it accepts', async (t) => {
  for (const [what, args, field] of broken) {
    const catalogProblems = validateManifest(args.manifest);
    if (field === 'manifest' || field === 'manifest.services[].environment') t.not(catalogProblems.length, 0, `${what}: the catalog refuses it too`);
    else t.same(catalogProblems, [], `${what}: a manifest the catalog accepts (the problem is in the other args)`);
  }
  t.same(validateManifest(manifest), [], 'the photo app is a valid catalog manifest');
  t.same(validateManifest(cloud), [], 'the cloud app is a valid catalog manifest');
});

t.test('given a required parameter without value or default, validation names it', async (t) => {
  const args = withManifest({ parameters: [{ name: 'domain', description: 'd', type: 'string', required: true }], services: [{ name: 'web', image: 'nginx', tag: '1' }], http: undefined, volumes: [], secrets: [], exposedPorts: [] });
  const problems = checkRules(appStackRules, { ...args, placement: {} });
  t.same(problems.map((p) => p.field), ['parameters']);
  t.match(problems[0]?.message, /domain: required by photos: d/);
});

t.test('given services depending on each other in a cycle, validation names the cycle', async (t) => {
  const cyclic = withManifest({
    services: [
      { name: 'a', image: 'a', tag: '1', dependsOn: ['b'] },
      { name: 'b', image: 'b', tag: '1', dependsOn: ['a'] },
    ],
    http: undefined,
    secrets: [],
    exposedPorts: [],
  });
  const problems = checkRules(appStackRules, { ...cyclic, placement: {} });
  t.same(problems.map((p) => p.field), ['manifest']);
  t.match(problems[0]?.message, /cycle: a → b → a/);
});

t.test('given valid args, no rule breaks', async (t) => {
  t.same(checkRules(appStackRules, baseArgs), []);
});

t.test('given invalid args, the constructor throws and registers nothing', async (t) => {
  const error = argsErrorFrom(t, () => new AppStack('photos', withArgs({ hostname: 'X', parameters: { nope: 1 } })));
  t.same(error?.problems.map((p) => p.field), ['hostname', 'parameters']);
  await mocks.settle();
  t.same(mocks.resources, []);
});

t.test('readOnly and init (Compose read_only, init) reach the docker container; absent, Docker\'s defaults stay', async (t) => {
  new AppStack('cloud', withService('redis', { readOnly: true, init: true }));
  await mocks.settle();
  const redis = mocks.one(CONTAINER, 'cloud-redis');
  t.equal(redis.inputs.readOnly, true);
  t.equal(redis.inputs.init, true);
  t.notOk('readOnly' in mocks.one(CONTAINER, 'cloud-db').inputs);
  t.notOk('init' in mocks.one(CONTAINER, 'cloud-db').inputs);
});
