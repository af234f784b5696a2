/**
 * The importer on the patterns of upstream Compose files of apps outside the catalog, and on
 * hostile ones. Every fixture is written here in our own words; its comment names the upstream
 * file whose pattern it reproduces.
 */
import t from 'tap';
import { importError, importText } from '../helpers/compose.js';
import { isPlaceholder, normaliseHostPath, type ImportResult } from '../../templates/lib/compose-import.js';
import { interpolate, parseInterpolation, referencedVariables } from '../../templates/lib/compose-interpolate.js';
import { validateManifest } from '../../templates/lib/validate-manifest.js';
import { looksLikeCredential, plaintextCredentials } from '../../policies/rules/no-plaintext-secrets.js';


const service = (result: ImportResult, name: string) => {
  const found = result.manifest.services.find((candidate) => candidate.name === name);
  if (!found) throw new Error(`no service ${name} in ${result.manifest.services.map((candidate) => candidate.name).join(', ')}`);
  return found;
};
const classOf = (result: ImportResult, volume: string) => result.volumes.find((entry) => entry.volume === volume);

t.test('Compose interpolation: nested defaults, alternatives, $$ and bare names', async (t) => {
  const lookup = (name: string) => ({ A: 'example.org', EMPTY: '' })[name];
  t.equal(interpolate('${A:+https://${A}}', lookup), 'https://example.org');
  t.equal(interpolate('${B:+https://${B}}', lookup), '');
  t.equal(interpolate('${B:-${A}}/x', lookup), 'example.org/x');
  t.equal(interpolate('${EMPTY:-fallback}|${EMPTY-unused}|', lookup), 'fallback||', 'without the colon an empty value counts as set');
  t.equal(interpolate('$$HOME and $${A} and $A', lookup), '$HOME and ${A} and example.org');
  t.same(referencedVariables('${A:+https://${B}}'), ['A', 'B']);
  t.throws(() => parseInterpolation('${A'), /unclosed/);
});

t.test('Synapse (matrix-org/synapse contrib/docker/docker-compose.yml): ./files:/data holds config, keys and SQLite: hot', async (t) => {
  const result = importText('services:\n  synapse:\n    image: docker.io/matrixdotorg/synapse:v1.120.0\n    ports: ["8008:8008/tcp"]\n    volumes:\n      - ./files:/data\n');
  t.match(classOf(result, 'files'), { class: 'hot', reason: /matrixdotorg\/synapse:v1\.120\.0 keeps homeserver\.yaml, the signing key and the SQLite database at \/data/ });
  // Without the image in the table, the path still decides, and the clash with the name is flagged.
  const generic = importText('services:\n  app:\n    image: example.org/chat:1.0\n    volumes:\n      - ./files:/data\n');
  t.match(classOf(generic, 'files'), { class: 'hot', needsConfirmation: true, reason: /keeps its own state.*the name "files" suggests files, but the mount path decides/ });
});

t.test('n8n (n8n-io/n8n-hosting docker-compose/withPostgres): root and non-root passwords stay two secrets; the app gets the non-root one', async (t) => {
  const compose = [
    'services:',
    '  postgres:',
    '    image: postgres:16',
    '    environment:',
    '      - POSTGRES_USER',
    '      - POSTGRES_PASSWORD',
    '      - POSTGRES_DB',
    '      - POSTGRES_NON_ROOT_USER',
    '      - POSTGRES_NON_ROOT_PASSWORD',
    '    volumes: [db_storage:/var/lib/postgresql/data]',
    '  n8n:',
    '    image: docker.n8n.io/n8nio/n8n:1.80.0',
    '    environment:',
    '      - DB_TYPE=postgresdb',
    '      - DB_POSTGRESDB_HOST=postgres',
    '      - DB_POSTGRESDB_USER=${POSTGRES_NON_ROOT_USER}',
    '      - DB_POSTGRESDB_PASSWORD=${POSTGRES_NON_ROOT_PASSWORD}',
    '    ports: ["5678:5678"]',
    '    volumes: [n8n_storage:/home/node/.n8n]',
    '    depends_on:',
    '      postgres:',
    '        condition: service_started',
    'volumes:',
    '  db_storage:',
    '  n8n_storage:',
  ].join('\n');
  const env = 'POSTGRES_USER=changeUser\nPOSTGRES_PASSWORD=changePassword\nPOSTGRES_DB=n8n\nPOSTGRES_NON_ROOT_USER=changeUser\nPOSTGRES_NON_ROOT_PASSWORD=changePassword\n';
  const result = importText(compose, { '.env': env });
  const db = service(result, 'postgres').environment!;
  t.equal(db.POSTGRES_PASSWORD, '${secret.postgres-password}');
  t.equal(db.POSTGRES_NON_ROOT_PASSWORD, '${secret.postgres-non-root-password}');
  t.equal(service(result, 'n8n').environment!.DB_POSTGRESDB_PASSWORD, db.POSTGRES_NON_ROOT_PASSWORD, 'the app and the database share the non-root secret');
  t.equal(service(result, 'n8n').environment!.DB_POSTGRESDB_HOST, '${service.postgres}');
  t.match(classOf(result, 'n8n-storage'), { class: 'hot' });
  t.notMatch(JSON.stringify(result.manifest), /changePassword/);
});

t.test('an init script bind-mounted as a single file (n8n withPostgres init-data.sh) is refused with the reason', async (t) => {
  const error = importError('services:\n  db:\n    image: postgres:16\n    volumes:\n      - ./init-data.sh:/docker-entrypoint-initdb.d/init-data.sh\n', { 'init-data.sh': '#!/bin/sh\n' });
  t.match(error.problems[0], { path: 'services.db.volumes[0]', message: /single file \.\/init-data\.sh .*not host files: bake the file into an image/ });
  // A config XML that is not there yet is still recognised by its name.
  const xml = importError('services:\n  app:\n    image: example.org/app:1.0\n    volumes: ["./config.xml:/app/config.xml"]\n');
  t.match(xml.problems[0]!.message, /single file \.\/config\.xml/);
});

t.test('a secret-looking value from an env file is never copied (Mastodon-style .env.production, SECRET_KEY_BASE=replace-me)', async (t) => {
  const result = importText('services:\n  web:\n    image: example.org/web:4.3.0\n    env_file: .env.production\n    ports: ["3000:3000"]\n', {
    '.env.production': 'SECRET_KEY_BASE=replace-me\nLOCAL_DOMAIN=example.com\nSMTP_LOGIN=CHANGE_ME\nOTP_SECRET=\n',
  });
  const env = service(result, 'web').environment!;
  t.equal(env.SECRET_KEY_BASE, '${secret.secret-key-base}');
  t.equal(env.SMTP_LOGIN, '${param.smtp-login}', 'a placeholder in a plain variable becomes a required parameter');
  t.match(result.manifest.parameters, [{ name: 'smtp-login', required: true }]);
  t.notMatch(JSON.stringify(result.manifest), /replace-me|CHANGE_ME/);
  for (const value of ['replace-me', 'changeme', 'CHANGE_ME', 'secret', 'password', 'xxx', '<your-token>']) t.ok(isPlaceholder(value), value);
  t.notOk(isPlaceholder('example.com'));
});

t.test('listmonk (knadh/listmonk docker-compose.yml): YAML merge keys keep the shared environment', async (t) => {
  const compose = [
    'x-db-credentials: &db-credentials',
    '  POSTGRES_USER: &db-user listmonk',
    '  POSTGRES_PASSWORD: &db-password listmonk',
    '  POSTGRES_DB: &db-name listmonk',
    'services:',
    '  app:',
    '    image: listmonk/listmonk:v5.0.0',
    '    ports: ["9000:9000"]',
    '    environment:',
    '      LISTMONK_db__user: *db-user',
    '      LISTMONK_db__password: *db-password',
    '      LISTMONK_db__host: db',
    '  db:',
    '    image: postgres:17-alpine',
    '    environment:',
    '      <<: *db-credentials',
  ].join('\n');
  const result = importText(compose);
  const db = service(result, 'db').environment!;
  t.equal(db.POSTGRES_USER, 'listmonk');
  t.equal(db.POSTGRES_PASSWORD, '${secret.postgres-password}');
  t.equal(service(result, 'app').environment!.LISTMONK_db__password, db.POSTGRES_PASSWORD, 'the app and the database share the one credential');
});

t.test('umami (umami-software/umami docker-compose.yml): $$ in a health check reaches the shell as one $', async (t) => {
  const result = importText('services:\n  db:\n    image: postgres:15-alpine\n    healthcheck:\n      test: ["CMD-SHELL", "pg_isready -U $${POSTGRES_USER} -d $${POSTGRES_DB}"]\n      interval: 5s\n');
  t.same(service(result, 'db').healthcheck!.test, ['CMD-SHELL', 'pg_isready -U ${POSTGRES_USER} -d ${POSTGRES_DB}']);
});

t.test('nested defaults in the environment (${A:+https://${A}}) are decided from .env, with a note', async (t) => {
  const result = importText('services:\n  app:\n    image: example.org/app:1.0\n    environment:\n      PUBLIC_URL: ${DOMAIN:+https://${DOMAIN}}\n', { '.env': 'DOMAIN=photos.example.com\n' });
  t.equal(service(result, 'app').environment!.PUBLIC_URL, 'https://${param.domain}');
  t.ok(result.notes.some((note) => /DOMAIN:\+\.\.\.\} kept its text because DOMAIN is set/.test(note)));
});

t.test('plausible (plausible/community-edition compose.yml): underscores in service names, links, profiles, optional dependencies', async (t) => {
  const compose = [
    'services:',
    '  plausible_db:',
    '    image: postgres:16-alpine',
    '    environment: { POSTGRES_PASSWORD: postgres }',
    '  plausible_events_db:',
    '    image: clickhouse/clickhouse-server:24.12-alpine',
    '  plausible:',
    '    image: ghcr.io/plausible/community-edition:v3.0.1',
    '    links: [plausible_db]',
    '    environment:',
    '      DATABASE_URL: postgres://postgres:postgres@plausible_db:5432/plausible_db',
    '    ports: ["8000"]',
    '    depends_on:',
    '      plausible_db: { condition: service_started }',
    '      plausible_events_db: { condition: service_started }',
    '      mail: { condition: service_started, required: false }',
    '  mail:',
    '    image: example.org/mail:1.0',
    '    profiles: [mail]',
  ].join('\n');
  const result = importText(compose);
  t.same(result.manifest.services.map((s) => s.name), ['plausible-db', 'plausible-events-db', 'plausible'], 'the profiled service is left out');
  t.same(service(result, 'plausible').dependsOn, ['plausible-db', 'plausible-events-db']);
  t.equal(service(result, 'plausible').environment!.DATABASE_URL, 'postgres://postgres:${secret.postgres-password}@${service.plausible-db}:5432/plausible_db');
  t.same(result.manifest.http, { service: 'plausible', port: 8000 }, 'ports: ["8000"] publishes 8000');
  t.ok(result.notes.some((note) => /links: dropped/.test(note)));
  t.ok(result.notes.some((note) => /mail.*profile/.test(note)));
  t.same(validateManifest(result.manifest).filter((problem) => !/tag/.test(problem.path)), []);
});

t.test('wallabag (wallabag/docker docker-compose.yml): ports ["80"] is the route', async (t) => {
  const result = importText('services:\n  wallabag:\n    image: wallabag/wallabag:2.6.10\n    ports: ["80"]\n');
  t.same(result.manifest.http, { service: 'wallabag', port: 80 });
});

t.test('depends_on service_completed_successfully becomes service_started with a note: catalog and AppStack refuse it alike', async (t) => {
  const result = importText('services:\n  migrate:\n    image: example.org/app:1.0\n  app:\n    image: example.org/app:1.0\n    depends_on:\n      migrate: { condition: service_completed_successfully }\n');
  t.same(service(result, 'app').dependsOn, ['migrate']);
  t.equal(service(result, 'app').dependsOnCondition, undefined);
  t.ok(result.notes.some((note) => /service_completed_successfully became service_started/.test(note)));
  const manifest = { ...result.manifest, services: result.manifest.services.map((s) => (s.name === 'app' ? { ...s, dependsOnCondition: { migrate: 'service_completed_successfully' as const } } : s)) };
  t.match(validateManifest(manifest), [{ path: 'services[1].dependsOnCondition.migrate', message: /service_completed_successfully is not supported/ }]);
});

t.test('refusals that spelling does not get around: normalised before judging', async (t) => {
  const hostile: [string, string, RegExp][] = [
    ['privileged as a string', 'services:\n  app:\n    image: x/app:1.0\n    privileged: "true"\n', /runs privileged/],
    ['doubled slashes', 'services:\n  app:\n    image: x/app:1.0\n    volumes: ["//var//run//docker.sock:/var/run/docker.sock"]\n', /\/\/var\/\/run\/\/docker\.sock \(\/var\/run\/docker\.sock: the Docker socket/],
    ['climbing out of the folder', 'services:\n  app:\n    image: x/app:1.0\n    volumes: ["../../var/run/docker.sock:/sock"]\n', /container engine socket/],
    ['climbing out elsewhere', 'services:\n  app:\n    image: x/app:1.0\n    volumes: ["../../../home:/h"]\n', /climbs out of the compose folder/],
    ['a rootless socket', 'services:\n  app:\n    image: x/app:1.0\n    volumes: ["/run/user/1000/docker.sock:/var/run/docker.sock"]\n', /host path \/run\/user/],
    ["root's home by name", 'services:\n  app:\n    image: x/app:1.0\n    volumes: ["~root/.ssh:/ssh:ro"]\n', /~root\/\.ssh \(\/root\/\.ssh: the host administrator's home/],
    ['a driver_opts bind', 'services:\n  app:\n    image: x/app:1.0\n    volumes: ["sock:/var/run/docker.sock"]\nvolumes:\n  sock:\n    driver: local\n    driver_opts: { type: none, o: bind, device: /var/run/docker.sock }\n', /mounts the volume sock, which binds the host path \/var\/run\/docker\.sock/],
  ];
  for (const [what, compose, message] of hostile) {
    const error = importError(compose);
    t.equal(error.code, 'EREFUSED', what);
    t.match(error.refusals.map((refusal) => refusal.message).join('\n'), message, what);
  }
  t.same(normaliseHostPath('~alice/x'), { path: '/home/alice/x', outside: false });
  t.same(normaliseHostPath('./data/'), { path: 'data', outside: false });
});

t.test('calibre-web (linuxserver/docker-calibre-web): a flag named like a token stays plain and passes the policy; read_only and init are carried', async (t) => {
  const result = importText('services:\n  calibre-web:\n    image: lscr.io/linuxserver/calibre-web:0.6.24\n    read_only: true\n    init: "true"\n    environment:\n      - OAUTHLIB_RELAX_TOKEN_SCOPE=1\n      - TZ=Etc/UTC\n    ports: ["8083:8083"]\n    volumes: ["./config:/config", "./books:/books"]\n');
  const app = service(result, 'calibre-web');
  t.equal(app.environment!.OAUTHLIB_RELAX_TOKEN_SCOPE, '1');
  t.equal(app.readOnly, true);
  t.equal(app.init, true);
  t.ok(looksLikeCredential('OAUTHLIB_RELAX_TOKEN_SCOPE'), 'the name alone looks like a credential');
  t.same(plaintextCredentials({ inputs: { envs: ['OAUTHLIB_RELAX_TOKEN_SCOPE=1', 'TZ=Etc/UTC'] }, secretPaths: [] }), [], 'but the policy sees a flag');
  t.same(plaintextCredentials({ inputs: { envs: ['API_TOKEN=abc'] }, secretPaths: [] }).length, 1, 'and still catches a real one');
  t.same(validateManifest(result.manifest).filter((problem) => !/tag/.test(problem.path)), []);
});
