// engine/install.mjs run as a user runs it, in throw-away copies of the project.
//
// Each copy holds only what the installer reads (the script, the wrapper Go module, a
// package.json without provider SDKs) so the CLI steps are exercised without plugins.
// The real CLI comes from the project's own `.engine/` and machine cache, which
// `npm run engine:install` made; without them these tests fail and say so.
import t from 'tap';
import { execFile } from 'node:child_process';
import { copyFile, lstat, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateEngine } from '../../runner/engine/locate.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const engine = await locateEngine({ projectRoot }).catch((error: Error) => {
  t.fail(`the installed engine is required: ${error.message}`);
  return undefined;
});

interface InstallRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A project copy with the installer's inputs; `.engine/` starts empty. */
async function projectCopy(t: Tap.Test): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'felhom-install-'));
  t.teardown(() => rm(copy, { recursive: true, force: true }));
  await mkdir(join(copy, 'engine', 'pulumi'), { recursive: true });
  await copyFile(join(projectRoot, 'engine', 'install.mjs'), join(copy, 'engine', 'install.mjs'));
  for (const name of ['go.mod', 'go.sum', 'tools.go']) {
    await copyFile(join(projectRoot, 'engine', 'pulumi', name), join(copy, 'engine', 'pulumi', name));
  }
  await writeFile(join(copy, 'package.json'), JSON.stringify({ name: 'felhom-infra', dependencies: {} }));
  return copy;
}

/** PATH with this Node and the basic tools only: no go, no pulumi, unless a folder is added. */
function barePath(...extra: string[]): string {
  return [...extra, dirname(process.execPath), '/usr/bin', '/bin'].join(':');
}

function runInstall(copy: string, env: Record<string, string>, args: string[] = ['--cli-only']): Promise<InstallRun> {
  return new Promise((resolveRun) => {
    execFile(process.execPath, [join(copy, 'engine', 'install.mjs'), ...args], {
      env: { HOME: process.env.HOME ?? '/root', FELHOM_PULUMI_RELEASES_URL: 'http://127.0.0.1:9/releases', ...env },
      timeout: 300_000,
    }, (error, stdout, stderr) => {
      resolveRun({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

t.test('a fresh clone installs the CLI by copying it from the machine cache, then costs nothing', async (t) => {
  const copy = await projectCopy(t);

  const first = await runInstall(copy, { PATH: barePath() });
  t.equal(first.code, 0, `first install succeeds: ${first.stderr}`);
  t.match(first.stdout, /cli: pulumi v3\.274\.1 installed from machine-cache/, 'the CLI is copied from the machine cache');
  t.match(first.stdout, /\[engine\] done in [\d.]+ s: pulumi v3\.274\.1/, 'the total time is printed');
  const located = await locateEngine({ projectRoot: copy });
  t.equal(located.version, 'v3.274.1', 'the copied CLI runs and reports the pinned version');

  const second = await runInstall(copy, { PATH: barePath() });
  t.equal(second.code, 0, 'second install succeeds');
  t.match(second.stdout, /cli: pulumi v3\.274\.1 already in \.engine/, 'the second run finds the CLI in place');
});

t.test('a pulumi on PATH at the pinned version is used as it is', async (t) => {
  const copy = await projectCopy(t);
  const onPath = join(copy, 'elsewhere');
  await mkdir(onPath);
  await symlink(await realpath(engine!.pulumiPath), join(onPath, 'pulumi'));

  const run = await runInstall(copy, { PATH: barePath(onPath), FELHOM_ENGINE_CACHE: join(copy, 'empty-cache') });
  t.equal(run.code, 0, `install succeeds: ${run.stderr}`);
  t.match(run.stdout, /cli: using pulumi v3\.274\.1 from PATH/, 'the CLI on PATH is used');
  t.ok((await lstat(join(copy, '.engine', 'bin', 'pulumi'))).isSymbolicLink(), '.engine/bin/pulumi points at the one on PATH');
  const report = JSON.parse(await readFile(join(copy, '.engine', 'install.json'), 'utf8'));
  t.match(report.cli, { version: 'v3.274.1', source: /^path:/ }, 'the install report says where the CLI came from');
});

t.test('without pulumi, the release site, a cache or go the install fails and says what to install', async (t) => {
  const copy = await projectCopy(t);

  const run = await runInstall(copy, { PATH: barePath(), FELHOM_ENGINE_CACHE: join(copy, 'empty-cache') });
  t.equal(run.code, 1, 'the install exits 1');
  t.match(run.stderr, /cannot install the Pulumi CLI v3\.274\.1/, 'the failure names the CLI version');
  t.match(run.stderr, /official release: 127\.0\.0\.1:9 unreachable/, 'the download attempt is reported');
  t.match(run.stderr, /Go build: go is not installed/, 'the missing go is reported');
  t.match(run.stderr, /Install Go \(>= 1\.26\) or Pulumi v3\.274\.1, then run `npm run engine:install` again/, 'the failure says what to install');
});

t.test('an unknown option is refused with the options that exist', async (t) => {
  const copy = await projectCopy(t);
  const run = await runInstall(copy, { PATH: barePath() }, ['--fast']);
  t.equal(run.code, 1, 'the install exits 1');
  t.match(run.stderr, /unknown option --fast; expected --cli-only, --require-plugins or --only name\[,name\]/, 'the message lists the options');
});
