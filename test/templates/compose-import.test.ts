import t from 'tap';
import { importError, importText } from '../helpers/compose.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  COMPOSE_SERVICE_FIELDS, composeFieldTable, ComposeImportError, durationSeconds, importCompose, parseDotenv, renderDraft, sizeMiB, splitCommand, splitOutsideVariables, type ImportResult,
} from '../../templates/lib/compose-import.js';
import { parseYaml } from '../../templates/lib/problems.js';
import { validateManifest } from '../../templates/lib/validate-manifest.js';
import { describeFailure } from '../../cli/errors.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'compose');

function importFixture(app: string): ImportResult {
  const file = join(FIXTURES, app, 'docker-compose.yml');
  return importCompose(readFileSync(file, 'utf8'), file);
}

function classOf(result: ImportResult, volume: string) {
  const found = result.volumes.find((entry) => entry.volume === volume);
  if (!found) throw new Error(`no volume ${volume} in ${result.volumes.map((entry) => entry.volume).join(', ')}`);
  return found;
}


t.test('Immich upstream compose: database hot, library bulk, model cache hot, each with its evidence', async (t) => {
  const result = importFixture('immich');
  t.equal(result.manifest.name, 'immich');
  t.match(classOf(result, 'postgres'), { class: 'hot', needsConfirmation: false, reason: /^mounted by database service database \(ghcr\.io\/immich-app\/postgres:14-vectorchord/ });
  t.match(classOf(result, 'postgres').source, 'bind ${DB_DATA_LOCATION} (./postgres)');
  t.match(classOf(result, 'library'), { class: 'bulk', reason: /^ghcr\.io\/immich-app\/immich-server:\S+ keeps the uploaded photos and videos at \/(data|usr\/src\/app\/upload)/, source: 'bind ${UPLOAD_LOCATION} (./library)' });
  t.match(classOf(result, 'model-cache'), { class: 'hot', reason: 'mount path /cache is a cache (service immich-machine-learning)' });
  t.same(result.manifest.volumes?.find((volume) => volume.name === 'library')?.backup, { policy: 'file-level' });
  t.same(result.manifest.http, { service: 'immich-server', port: 2283 });
});

t.test('Immich: the example DB password becomes one generated secret shared by every service', async (t) => {
  const result = importFixture('immich');
  const byName = new Map(result.manifest.services.map((service) => [service.name, service]));
  t.equal(byName.get('database')!.environment!.POSTGRES_PASSWORD, '${secret.db-password}');
  t.equal(byName.get('immich-server')!.environment!.DB_PASSWORD, '${secret.db-password}');
  t.same(result.manifest.secrets, [{ name: 'db-password', length: 32, charset: 'alphanumeric' }]);
  t.notMatch(JSON.stringify(result.manifest), /"postgres","DB_USERNAME"|PASSWORD":"postgres/);
});

t.test('Immich: digests, shm_size and the floating release tag are carried over and flagged', async (t) => {
  const result = importFixture('immich');
  const database = result.manifest.services.find((service) => service.name === 'database')!;
  t.equal(database.digest, 'sha256:bcf63357191b76a916ae5eb93464d65c07511da41e3bf7a8416db519b40b1c23');
  t.equal(database.shmSizeMiB, 128);
  t.equal(database.role, 'database');
  t.equal(result.manifest.services[0]!.tag, 'release');
  t.same(result.draftProblems.map((problem) => problem.path), ['services[0].tag', 'services[1].tag']);
  t.ok(result.notes.some((note) => /volumes\[1\]: dropped \/etc\/localtime/.test(note)));
});

t.test('Paperless-ngx upstream compose: broker and database hot, documents bulk, data (its index and state) hot', async (t) => {
  const result = importFixture('paperless-ngx');
  t.match(classOf(result, 'redisdata'), { class: 'hot', reason: /^mounted by cache service broker/ });
  t.match(classOf(result, 'pgdata'), { class: 'hot', reason: 'mounted by database service db (docker.io/library/postgres:18) at /var/lib/postgresql' });
  t.match(classOf(result, 'data'), { class: 'hot', needsConfirmation: false, reason: /^mount path \/usr\/src\/paperless\/data is where the app keeps its own state/ });
  for (const volume of ['media', 'export', 'consume']) {
    t.match(classOf(result, volume), { class: 'bulk', reason: `mount path /usr/src/paperless/${volume} holds user media or files (service webserver)` });
  }
  t.equal(classOf(result, 'export').source, 'bind ./export');
});

t.test('Paperless-ngx: service hostnames in the environment become service placeholders', async (t) => {
  const webserver = importFixture('paperless-ngx').manifest.services.find((service) => service.name === 'webserver')!;
  t.equal(webserver.environment!.PAPERLESS_REDIS, 'redis://${service.broker}:6379');
  t.equal(webserver.environment!.PAPERLESS_DBHOST, '${service.db}');
  t.same(webserver.dependsOn, ['db', 'broker']);
  t.same(webserver.ports, [8000]);
});

t.test('Mealie upstream compose: depends_on conditions, healthcheck timing and memory limits become a valid manifest', async (t) => {
  const result = importFixture('mealie');
  const [mealie, postgres] = result.manifest.services;
  t.same(mealie!.dependsOnCondition, { postgres: 'service_healthy' });
  t.same(mealie!.resources, { memoryMiB: 1000 });
  t.same(mealie!.mounts, [{ volume: 'mealie-data', path: '/app/data' }]);
  t.equal(mealie!.environment!.POSTGRES_SERVER, '${service.postgres}');
  t.equal(mealie!.environment!.PUID, '1000');
  t.same(postgres!.healthcheck, { test: ['CMD', 'pg_isready'], intervalSeconds: 30, timeoutSeconds: 20, retries: 3 });
  t.match(classOf(result, 'mealie-pgdata'), { class: 'hot', reason: /^mounted by database service postgres \(postgres:15\)/ });
  t.same(result.draftProblems, [], 'a pinned upstream file imports into a manifest the catalog accepts');
  t.same(validateManifest(result.manifest), []);
});

t.test('Forgejo upstream compose: SSH becomes an exposed port and both example passwords one secret', async (t) => {
  const result = importFixture('forgejo');
  t.same(result.manifest.http, { service: 'server', port: 3000 });
  t.match(result.manifest.exposedPorts, [{ service: 'server', port: 22, protocol: 'tcp' }]);
  const [server, db] = result.manifest.services;
  t.equal(server!.environment!.FORGEJO__database__PASSWD, db!.environment!.POSTGRES_PASSWORD);
  t.equal(server!.environment!.FORGEJO__database__HOST, '${service.db}:5432');
  t.equal(result.manifest.secrets?.length, 1);
});

t.test('Miniflux, an app outside the catalog: a working draft whose database URL and database share one generated password', async (t) => {
  const result = importFixture('miniflux');
  t.equal(result.manifest.name, 'miniflux');
  t.same(result.manifest.http, { service: 'miniflux', port: 8080 });
  t.match(classOf(result, 'miniflux-db'), { class: 'hot', reason: /^mounted by database service db \(postgres:17-alpine\) at \/var\/lib\/postgresql\/data/ });
  const byName = new Map(result.manifest.services.map((service) => [service.name, service]));
  t.equal(byName.get('miniflux')!.environment!.DATABASE_URL, 'postgres://miniflux:${secret.postgres-password}@${service.db}/miniflux?sslmode=disable', 'the URL reaches the database service with the generated password');
  t.equal(byName.get('db')!.environment!.POSTGRES_PASSWORD, '${secret.postgres-password}', 'the database gets the same password');
  t.equal(byName.get('db')!.environment!.POSTGRES_USER, 'miniflux', 'a value that merely equals a service name stays data');
  t.equal(byName.get('miniflux')!.environment!.ADMIN_PASSWORD, '${secret.admin-password}');
  t.same(result.manifest.secrets?.map((secret) => secret.name).sort(), ['admin-password', 'postgres-password']);
  t.same(byName.get('miniflux')!.dependsOnCondition, { db: 'service_healthy' });
  t.ok(result.notes.some((note) => /"latest" is a floating tag/.test(note)), 'the floating latest tag is flagged');
  t.notMatch(JSON.stringify(result.manifest), /test123|:secret@/, 'no upstream example password survives');
});

t.test('a volume whose source is a variable with a path default is split where Compose splits it', async (t) => {
  t.same(splitOutsideVariables('${LD_HOST_DATA_DIR:-./data}:/etc/linkding/data:ro', ':'), ['${LD_HOST_DATA_DIR:-./data}', '/etc/linkding/data', 'ro']);
  t.same(splitOutsideVariables('a:b', ':'), ['a', 'b']);
  const result = importText(
    'services:\n  linkding:\n    image: sissbruecker/linkding:1.44.1\n    ports: ["${LD_HOST_PORT:-9090}:9090"]\n    volumes: ["${LD_HOST_DATA_DIR:-./data}:/etc/linkding/data"]\n',
    {},
    'linkding',
  );
  t.same(result.manifest.services[0]!.mounts, [{ volume: 'data', path: '/etc/linkding/data' }]);
  t.match(classOf(result, 'data'), { class: 'hot', source: 'bind ${LD_HOST_DATA_DIR:-./data} (./data)' });
  t.same(result.manifest.http, { service: 'linkding', port: 9090 });
});

t.test('the rendered draft is YAML that parses back to the manifest, with each volume reason as a comment', async (t) => {
  const result = importFixture('paperless-ngx');
  const yaml = renderDraft(result, 'docker-compose.yml');
  t.same(parseYaml(yaml).value, JSON.parse(JSON.stringify(result.manifest)));
  t.match(yaml, /# hot: mount path \/usr\/src\/paperless\/data is where the app keeps its own state/);
  t.match(yaml, /# bulk: mount path \/usr\/src\/paperless\/media holds user media or files/);
});

t.test('refusals name the service and the reason', async (t) => {
  const cases: [string, string, RegExp][] = [
    ['privileged', 'services:\n  app:\n    image: x/app:1.0\n    privileged: true\n', /^refused: service app runs privileged/],
    ['host network', 'services:\n  app:\n    image: x/app:1.0\n    network_mode: host\n', /^refused: service app uses the host network/],
    ['devices', 'services:\n  app:\n    image: x/app:1.0\n    devices:\n      - /dev/dri:/dev/dri\n', /^refused: service app needs device \/dev\/dri; device passthrough is not available/],
    ['unsafe capability', 'services:\n  app:\n    image: x/app:1.0\n    cap_add: [CHOWN, NET_ADMIN]\n', /^refused: service app adds capability NET_ADMIN, which is not on the safe list/],
    ['Docker socket', 'services:\n  app:\n    image: x/app:1.0\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n', /^refused: service app bind-mounts the host path \/var\/run\/docker\.sock \(the Docker socket/],
    ['host /etc', 'services:\n  app:\n    image: x/app:1.0\n    volumes:\n      - type: bind\n        source: /etc\n        target: /host-etc\n', /^refused: service app bind-mounts the host path \/etc /],
    ['host pid namespace', 'services:\n  app:\n    image: x/app:1.0\n    pid: host\n', /^refused: service app shares the host's pid namespace/],
  ];
  for (const [label, compose, message] of cases) {
    const error = importError(compose);
    t.equal(error.code, 'EREFUSED', label);
    t.equal(describeFailure(error).exitCode, 1, label);
    t.equal(error.refusals.length, 1, label);
    t.match(error.refusals[0]!.message, message, label);
    t.match(error.refusals[0]!.path, /^services\.app\./, label);
  }
});

t.test('safe capabilities are kept, normalised without the CAP_ prefix', async (t) => {
  const result = importText('services:\n  app:\n    image: x/app:1.0\n    cap_add: [CAP_CHOWN, net_bind_service]\n');
  t.same(result.manifest.services[0]!.capAdd, ['CHOWN', 'NET_BIND_SERVICE']);
});

t.test('the upstream Home Assistant file is refused with all three reasons at once', async (t) => {
  const file = join(FIXTURES, 'home-assistant', 'docker-compose.yml');
  const error = t.throws(() => importCompose(readFileSync(file, 'utf8'), file)) as ComposeImportError;
  t.type(error, ComposeImportError);
  t.same(error.refusals.map((refusal) => refusal.path), [
    'services.homeassistant.privileged',
    'services.homeassistant.network_mode',
    'services.homeassistant.volumes[2]',
  ]);
  t.match(error.details.join('\n'), /\/run\/dbus/);
});

t.test('variables become parameters and secrets instead of being resolved away', async (t) => {
  const result = importText(
    'services:\n  app:\n    image: x/app:${APP_TAG:-2.1}\n    environment:\n      LOG_LEVEL: ${LOG_LEVEL:-info}\n      SITE: ${SITE_NAME}\n      API_TOKEN: ${API_TOKEN}\n      LITERAL: "$$HOME"\n',
  );
  const app = result.manifest.services[0]!;
  t.equal(app.tag, '2.1');
  t.same(app.environment, { LOG_LEVEL: '${param.log-level}', SITE: '${param.site-name}', API_TOKEN: '${secret.api-token}', LITERAL: '$$HOME' });
  t.same(result.manifest.parameters, [
    { name: 'log-level', description: 'Upstream variable LOG_LEVEL.', type: 'string', default: 'info' },
    { name: 'site-name', description: 'Upstream variable SITE_NAME.', type: 'string', required: true },
  ]);
  t.same(result.manifest.secrets, [{ name: 'api-token', length: 32, charset: 'alphanumeric' }]);
  t.same(result.draftProblems, []);
});

t.test('a required variable without a value is reported with its message', async (t) => {
  const error = importError('services:\n  app:\n    image: x/app:${APP_TAG:?set APP_TAG to the release}\n');
  t.equal(error.code, 'ECOMPOSE');
  t.same(error.problems, [{ path: 'services.app.image', message: 'variable APP_TAG is required: set APP_TAG to the release' }]);
});

t.test('.env next to the compose file supplies interpolation values', async (t) => {
  const result = importText('services:\n  app:\n    image: x/app:${APP_TAG}\n', { '.env': 'APP_TAG="3.4.5" # pinned\n' });
  t.equal(result.manifest.services[0]!.tag, '3.4.5');
});

t.test('a missing env_file is a problem naming the file; an optional one is skipped', async (t) => {
  const error = importError('services:\n  app:\n    image: x/app:1.0\n    env_file: [app.env]\n');
  t.equal(error.code, 'ECOMPOSE');
  t.match(error.problems[0], { path: 'services.app.env_file[0]', message: /^env_file app\.env not found/ });
  const result = importText('services:\n  app:\n    image: x/app:1.0\n    env_file:\n      - path: app.env\n        required: false\n');
  t.equal(result.manifest.services[0]!.environment, undefined);
});

t.test('anonymous volumes become named volumes so they can be placed and backed up', async (t) => {
  const result = importText('services:\n  web:\n    image: x/app:1.0\n    volumes:\n      - /srv/app\n');
  t.same(result.manifest.services[0]!.mounts, [{ volume: 'web-app', path: '/srv/app' }]);
  t.match(classOf(result, 'web-app'), { class: 'hot', needsConfirmation: true, source: 'anonymous volume at web:/srv/app' });
});

t.test('a host media folder becomes a managed bulk volume, with a note to copy the data in', async (t) => {
  const result = importText('services:\n  web:\n    image: x/app:1.0\n    ports: ["8080:80"]\n    volumes:\n      - /mnt/storage/movies:/movies:ro\n');
  t.same(result.manifest.services[0]!.mounts, [{ volume: 'movies', path: '/movies', readOnly: true }]);
  t.match(classOf(result, 'movies'), { class: 'bulk', reason: 'mount path /movies holds user media or files (service web)' });
  t.ok(result.notes.some((note) => note.includes('host path /mnt/storage/movies becomes the managed volume movies')));
  t.same(result.manifest.http, { service: 'web', port: 80 });
});

t.test('bad compose input is reported with paths, never half-imported', async (t) => {
  t.match(importError('services: [oops\n').problems[0], { path: '(document)', message: /^not valid YAML at line/ });
  t.match(importError('version: "3"\n').problems[0], { path: 'services', message: 'expected a Compose file with a services mapping' });
  const error = importError('services:\n  app:\n    build: .\n  web:\n    image: x/web:1\n    depends_on: [missing]\n    ports: ["eighty"]\n');
  t.ok(error.problems.some((problem) => problem.path === 'services.app.build' && /published images only/.test(problem.message)));
  t.ok(error.problems.some((problem) => problem.path === 'services.web.depends_on.missing'));
  t.ok(error.problems.some((problem) => problem.path === 'services.web.ports[0]'));
});

t.test('Compose durations, sizes, commands and dotenv files are read as Compose reads them', async (t) => {
  t.equal(durationSeconds('1m30s'), 90);
  t.equal(durationSeconds('500ms'), 1);
  t.equal(durationSeconds('soon'), undefined);
  t.equal(sizeMiB('128mb'), 128);
  t.equal(sizeMiB('1g'), 1024);
  t.equal(sizeMiB('1000M'), 1000);
  t.equal(sizeMiB(2097152), 2);
  t.same(splitCommand(`redis-server --save "" --appendonly 'yes please'`), ['redis-server', '--save', '', '--appendonly', 'yes please']);
  t.same([...parseDotenv('# c\nA=1\nexport B = "two words"\nC=x # comment\n')], [['A', '1'], ['B', 'two words'], ['C', 'x']]);
});

t.test('docs/catalog.md shows the importer\'s own field table, row for row', async (t) => {
  const docs = readFileSync(new URL('../../docs/catalog.md', import.meta.url), 'utf8');
  const begin = docs.indexOf('<!-- compose-fields:begin');
  const end = docs.indexOf('<!-- compose-fields:end -->');
  t.ok(begin >= 0 && end > begin, 'the table has its markers');
  t.equal(docs.slice(docs.indexOf('\n', begin) + 1, end).trim(), composeFieldTable());
});

t.test('each kind of field handling in the table does what it says', async (t) => {
  // Given one field of each kind from the table, when imported, then each leads to its own outcome.
  const error = importError('services:\n  app:\n    image: example.org/app:1.0\n    privileged: true\n    extends: { service: base }\n    container_name: app\n    colour: blue\n');
  t.match(error.refusals, [{ path: 'services.app.privileged', message: /^refused: service app runs privileged/ }], 'refused');
  t.ok(error.problems.some((problem) => problem.path === 'services.app.extends' && problem.message === `not supported: ${(COMPOSE_SERVICE_FIELDS.extends as { reason: string }).reason}`), 'unsupported');
  const result = importText('services:\n  app:\n    image: example.org/app:1.0\n    container_name: app\n    colour: blue\n    read_only: true\n');
  t.ok(result.notes.includes(`services.app.container_name: dropped, ${(COMPOSE_SERVICE_FIELDS.container_name as { reason: string }).reason}`), 'ignored, with the reason from the table');
  t.ok(result.notes.includes('services.app.colour: dropped, not understood by the importer; check whether the app needs it'), 'a field not in the table');
  t.equal(result.manifest.services[0]!.readOnly, true, 'translated');
});
