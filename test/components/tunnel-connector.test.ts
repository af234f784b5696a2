import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { argsErrorFrom, mocks, promiseOf } from '../helpers/mocks.js';
import {
  CONNECTOR_DELETE_SCRIPT,
  CONNECTOR_WRITE_SCRIPT,
  TunnelConnector,
  connectorPaths,
  connectorUnit,
  tunnelConnectorRules,
  type TunnelConnectorArgs,
} from '../../components/tunnel-connector.js';
import { checkRules } from '../../components/validation.js';

const COMMAND = 'command:local:Command';
const TOKEN = 'eyJhIjoiYWNjb3VudCIsInQiOiJ0dW5uZWwiLCJzIjoic2VjcmV0In0=';

t.beforeEach(() => mocks.reset());

t.test('given a token, one local command writes the unit and env file and manages the service', async (t) => {
  const connector = new TunnelConnector('cloudflared', { token: pulumi.secret(TOKEN) });
  await mocks.settle();
  t.same(mocks.inventory(), [`${COMMAND}::cloudflared-service`, 'felhom:host:TunnelConnector::cloudflared']);
  const command = mocks.one(COMMAND);
  t.equal(command.parent, mocks.one('felhom:host:TunnelConnector').urn);
  t.match(command.inputs, {
    create: CONNECTOR_WRITE_SCRIPT,
    update: CONNECTOR_WRITE_SCRIPT,
    delete: CONNECTOR_DELETE_SCRIPT,
    interpreter: ['/bin/sh', '-c'],
    addPreviousOutputInEnv: false,
    environment: {
      TUNNEL_TOKEN: TOKEN,
      FELHOM_UNIT_FILE: '/etc/systemd/system/felhom-cloudflared.service',
      FELHOM_ENV_FILE: '/etc/felhom/felhom-cloudflared.env',
      FELHOM_SERVICE: 'felhom-cloudflared',
      FELHOM_MANAGE_SERVICE: 'true',
    },
  });
  t.same(command.secretPaths, ['environment.TUNNEL_TOKEN'], 'the token in the environment is secret');
  for (const script of ['create', 'update', 'delete']) t.notMatch(command.inputs[script], TOKEN, `the ${script} command line carries no token`);
  t.notMatch(command.inputs.environment.FELHOM_UNIT_CONTENT, TOKEN, 'the unit carries no token');
  t.match(command.inputs.environment.FELHOM_UNIT_CONTENT, /EnvironmentFile=\/etc\/felhom\/felhom-cloudflared\.env/);
  t.equal(await promiseOf(connector.unitFile), '/etc/systemd/system/felhom-cloudflared.service');
  t.equal(await promiseOf(connector.envFile), '/etc/felhom/felhom-cloudflared.env');
  t.equal(await promiseOf(connector.serviceName), 'felhom-cloudflared');
});

t.test('given a plain-string token, it is still sent as a secret', async (t) => {
  new TunnelConnector('cloudflared', { token: TOKEN, rootDir: '/tmp/x', manageService: false, serviceName: 'cf', cloudflaredPath: '/opt/cf' });
  await mocks.settle();
  const command = mocks.one(COMMAND);
  t.same(command.secretPaths, ['environment.TUNNEL_TOKEN']);
  t.match(command.inputs.environment, { FELHOM_UNIT_FILE: '/tmp/x/etc/systemd/system/cf.service', FELHOM_ENV_FILE: '/tmp/x/etc/felhom/cf.env', FELHOM_MANAGE_SERVICE: 'false', FELHOM_SERVICE: 'cf' });
  t.match(command.inputs.environment.FELHOM_UNIT_CONTENT, /ExecStart=\/opt\/cf --no-autoupdate tunnel run/);
});

t.test('the unit runs cloudflared with the token from its environment file, hardened', async (t) => {
  const unit = connectorUnit({ envFile: '/etc/felhom/cf.env', cloudflaredPath: '/usr/bin/cloudflared' });
  t.match(unit, /\nType=notify\n/);
  t.match(unit, /\nEnvironmentFile=\/etc\/felhom\/cf\.env\n/);
  t.match(unit, /\nExecStart=\/usr\/bin\/cloudflared --no-autoupdate tunnel run\n/);
  t.match(unit, /\nRestart=always\n/);
  t.match(unit, /\nDynamicUser=yes\n/);
  t.match(unit, /\nWantedBy=multi-user\.target\n/);
  t.same(connectorPaths('/', 'cf'), { unitFile: '/etc/systemd/system/cf.service', envFile: '/etc/felhom/cf.env' });
});

/** Runs a connector script the way local.Command does: `/bin/sh -c <script>` with the environment. */
function runScript(script: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('/bin/sh', ['-c', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

t.test('for real in a temp root: the write script creates a 0600 token file and the unit; delete removes both', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'felhom-connector-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const { unitFile, envFile } = connectorPaths(root, 'felhom-cloudflared');
  const unit = connectorUnit({ envFile, cloudflaredPath: '/usr/bin/cloudflared' });
  const env = { TUNNEL_TOKEN: TOKEN, FELHOM_UNIT_FILE: unitFile, FELHOM_ENV_FILE: envFile, FELHOM_UNIT_CONTENT: unit, FELHOM_SERVICE: 'felhom-cloudflared', FELHOM_MANAGE_SERVICE: 'false' };

  const written = runScript(CONNECTOR_WRITE_SCRIPT, env);
  t.equal(written.status, 0, written.stderr);
  t.equal(written.stdout + written.stderr, '', 'the script prints nothing, so logs hold nothing');
  t.equal(readFileSync(envFile, 'utf8'), `TUNNEL_TOKEN=${TOKEN}\n`);
  t.equal(statSync(envFile).mode & 0o777, 0o600, 'the token file is readable by root only');
  t.equal(readFileSync(unitFile, 'utf8'), unit);
  t.equal(statSync(unitFile).mode & 0o777, 0o644);
  t.equal(statSync(join(root, 'etc/felhom')).mode & 0o077, 0, 'the directory made for the token is private too');
  t.notOk(existsSync(`${envFile}.tmp`), 'no temp file left behind');

  const rotated = runScript(CONNECTOR_WRITE_SCRIPT, { ...env, TUNNEL_TOKEN: 'rotated-token' });
  t.equal(rotated.status, 0, 'the update path rewrites in place');
  t.equal(readFileSync(envFile, 'utf8'), 'TUNNEL_TOKEN=rotated-token\n');

  const deleted = runScript(CONNECTOR_DELETE_SCRIPT, env);
  t.equal(deleted.status, 0, deleted.stderr);
  t.notOk(existsSync(envFile), 'the token file is gone');
  t.notOk(existsSync(unitFile), 'the unit is gone');
});

t.test('for real: with service management on and no systemctl, the write script fails loudly', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'felhom-connector-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // A PATH holding the file tools the script needs, but no systemctl.
  const bin = join(root, 'bin');
  mkdirSync(bin);
  for (const tool of ['mkdir', 'dirname', 'chmod', 'mv', 'rm']) {
    const found = spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    symlinkSync(found, join(bin, tool));
  }
  const { unitFile, envFile } = connectorPaths(join(root, 'fs'), 'cf');
  const result = spawnSync('/bin/sh', ['-c', CONNECTOR_WRITE_SCRIPT], {
    env: { PATH: bin, TUNNEL_TOKEN: TOKEN, FELHOM_UNIT_FILE: unitFile, FELHOM_ENV_FILE: envFile, FELHOM_UNIT_CONTENT: 'x', FELHOM_SERVICE: 'cf', FELHOM_MANAGE_SERVICE: 'true' },
    encoding: 'utf8',
  });
  t.ok(existsSync(envFile), 'the files were written before systemctl was needed');
  t.not(result.status, 0, 'a missing systemctl is an error, not a silent success');
  t.match(result.stderr, /systemctl/);
  t.notMatch(result.stderr, TOKEN, 'the error output carries no token');
});

const broken: [string, Partial<TunnelConnectorArgs>, string, RegExp][] = [
  ['an empty token', { token: '' }, 'token', /tunnel token/],
  ['a relative root', { rootDir: 'tmp' }, 'rootDir', /absolute directory, got "tmp"/],
  ['a unit name with a slash', { serviceName: 'a/b' }, 'serviceName', /systemd unit name/],
  ['a relative cloudflared path', { cloudflaredPath: 'cloudflared' }, 'cloudflaredPath', /absolute path to cloudflared/],
];
for (const [what, patch, field, message] of broken) {
  t.test(`given ${what}, validation names ${field}`, async (t) => {
    const problems = checkRules(tunnelConnectorRules, { token: TOKEN, ...patch });
    t.same(problems.map((p) => p.field), [field]);
    t.match(problems[0]?.message, message);
  });
}

t.test('given invalid args, the constructor throws, registers nothing and never echoes the token', async (t) => {
  const error = argsErrorFrom(t, () => new TunnelConnector('cloudflared', { token: TOKEN, rootDir: 'relative' }));
  t.notMatch(error?.message, TOKEN);
  await mocks.settle();
  t.same(mocks.resources, []);
});
