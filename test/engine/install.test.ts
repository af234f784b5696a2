// engine/install.mjs run as a user runs it, in throw-away copies of the project.
//
// Each copy holds only what the installer reads (the script, the wrapper Go module, a
// package.json without provider SDKs) so the CLI steps are exercised without plugins.
// The real CLI comes from the project's own `.engine/` and machine cache, which
// `npm run engine:install` made; without them these tests fail and say so.
import t from 'tap';
import { lstat, mkdir, readFile, realpath, symlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { locateEngine } from '../../runner/engine/locate.js';
import { barePath, projectCopy, projectRoot, runInstall } from '../helpers/engine-install.js';

const engine = await locateEngine({ projectRoot }).catch((error: Error) => {
  t.fail(`the installed engine is required: ${error.message}`);
  return undefined;
});

/** The machine cache the real install used: where a fresh clone copies the CLI from. */
const machineCache = process.env.FELHOM_ENGINE_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'felhom', 'engine');

t.test('a fresh clone installs the CLI by copying it from the machine cache, then costs nothing', async (t) => {
  const copy = await projectCopy(t);

  const first = await runInstall(copy, { FELHOM_ENGINE_CACHE: machineCache });
  t.equal(first.code, 0, `first install succeeds: ${first.stderr}`);
  t.match(first.stdout, /cli: pulumi v3\.274\.1 installed from machine-cache/, 'the CLI is copied from the machine cache');
  t.match(first.stdout, /\[engine\] done in [\d.]+ s: pulumi v3\.274\.1/, 'the total time is printed');
  const located = await locateEngine({ projectRoot: copy });
  t.equal(located.version, 'v3.274.1', 'the copied CLI runs and reports the pinned version');

  const second = await runInstall(copy, { FELHOM_ENGINE_CACHE: machineCache });
  t.equal(second.code, 0, 'second install succeeds');
  t.match(second.stdout, /cli: pulumi v3\.274\.1 already in .*\.engine/, 'the second run finds the CLI in place');
});

t.test('a pulumi on PATH at the pinned version is used as it is', async (t) => {
  const copy = await projectCopy(t);
  const onPath = join(copy, 'elsewhere');
  await mkdir(onPath);
  await symlink(await realpath(engine!.pulumiPath), join(onPath, 'pulumi'));

  const run = await runInstall(copy, { PATH: barePath(onPath) });
  t.equal(run.code, 0, `install succeeds: ${run.stderr}`);
  t.match(run.stdout, /cli: using pulumi v3\.274\.1 from PATH/, 'the CLI on PATH is used');
  t.ok((await lstat(join(copy, '.engine', 'bin', 'pulumi'))).isSymbolicLink(), '.engine/bin/pulumi points at the one on PATH');
  const report = JSON.parse(await readFile(join(copy, '.engine', 'install.json'), 'utf8'));
  t.match(report.cli, { version: 'v3.274.1', source: /^path:/ }, 'the install report says where the CLI came from');
});

t.test('without pulumi, the release site, a cache or go the install fails and says what to install', async (t) => {
  const copy = await projectCopy(t);

  const run = await runInstall(copy, {});
  t.equal(run.code, 1, 'the install exits 1');
  t.match(run.stderr, /cannot install the Pulumi CLI v3\.274\.1/, 'the failure names the CLI version');
  t.match(run.stderr, /official release: 127\.0\.0\.1:9 unreachable/, 'the download attempt is reported');
  t.match(run.stderr, /Go build: go is not installed/, 'the missing go is reported');
  t.match(run.stderr, /Install Go \(>= 1\.26\) or Pulumi v3\.274\.1, or name an engine mirror \(FELHOM_ENGINE_MIRROR\), then run `npm run engine:install` again/, 'the failure says what to install');
});

t.test('an unknown option is refused with the options that exist', async (t) => {
  const copy = await projectCopy(t);
  const run = await runInstall(copy, {}, ['--fast']);
  t.equal(run.code, 1, 'the install exits 1');
  t.match(run.stderr, /unknown option --fast; expected --cli-only, --plugins-only, --require-plugins, --only name\[,name\], --mirror <dir\|url>, --mirror-only, or `mirror --out <dir>`/, 'the message lists the options');
});
