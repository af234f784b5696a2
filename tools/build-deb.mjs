#!/usr/bin/env node
// Builds the Debian package of the box agent, felhom-agent_<version>_<arch>.deb, with dpkg-deb:
//
//   /usr/lib/felhom-agent/node          its own Node runtime (the one the project pins)
//   /usr/lib/felhom-agent/{bin,dist,templates,package.json,node_modules}
//                                       the built code and its production dependencies only
//   /usr/lib/felhom-agent/.engine       the pinned Pulumi CLI and plugins installed on the build
//                                       machine (`npm run engine:install`, from the operator's
//                                       mirror or the machine cache), when there is one
//   /usr/bin/felhom                     the command, on PATH
//   /lib/systemd/system/felhom-agent.service
//                                       the hardened unit of templates/systemd, pointing here
//   /etc/felhom/agent.env               the box's settings (a conffile: upgrades keep edits)
//   postinst                            /var/lib/felhom-agent 0700 with keys/ and secrets/ 0700
//
// Plain ESM JavaScript, like engine/install.mjs: it runs after `npm run build` with nothing but
// Node and dpkg-deb. Nothing fetched is kept in the
// repository: the package is a build artifact.
//
// Usage: node tools/build-deb.mjs [--out <dir>] [--fast]   (--fast: gzip -1 instead of xz, for tests)
// Prints the path of the package.

import { execFileSync } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PREFIX = '/usr/lib/felhom-agent';

class BuildError extends Error {}

function option(name) {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

async function exists(path) {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * The production dependencies' folders (relative to the project), found as Node resolves them:
 * from each package's `dependencies` and `optionalDependencies` (and installed peers), nested
 * `node_modules` first, then each parent's. No devDependencies: no tap, no TypeScript of ours.
 */
async function productionModules() {
  const found = new Set();
  const visit = async (packageDir, manifest) => {
    const wanted = { ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies };
    for (const name of Object.keys(wanted)) {
      let dir = packageDir;
      let location;
      for (;;) {
        const candidate = join(dir, 'node_modules', name);
        if (await exists(join(candidate, 'package.json'))) {
          location = candidate;
          break;
        }
        if (dir === root || dirname(dir) === dir) break;
        dir = dirname(dir);
        // from node_modules/a/node_modules/b up to node_modules/a, then the project
        while (dir !== root && dirname(dir) !== dir && !(await exists(join(dir, 'package.json')))) dir = dirname(dir);
      }
      if (!location) {
        if (name in (manifest.dependencies ?? {})) throw new BuildError(`${relative(root, packageDir) || 'the project'} needs ${name}, which is not installed: run npm ci`);
        continue; // an optional dependency or peer that is not installed
      }
      const key = relative(root, location);
      if (found.has(key)) continue;
      found.add(key);
      await visit(location, JSON.parse(await readFile(join(location, 'package.json'), 'utf8')));
    }
  };
  await visit(root, JSON.parse(await readFile(join(root, 'package.json'), 'utf8')));
  return [...found].sort();
}

/** The unit of templates/systemd with this package's paths; refuses a unit whose paths moved. */
async function unitText() {
  const text = await readFile(join(root, 'templates', 'systemd', 'felhom-agent.service'), 'utf8');
  const replacements = [
    ['ExecStart=/opt/felhom/node_modules/.bin/node /opt/felhom/bin/felhom.js agent run', 'ExecStart=/usr/bin/felhom agent run'],
    ['WorkingDirectory=/opt/felhom', `WorkingDirectory=${PREFIX}`],
    ['Documentation=file:///opt/felhom/docs/operator-guide.md', 'Documentation=file:///usr/share/doc/felhom-agent/operator-guide.md'],
    ['# Install: copy to /etc/systemd/system/, put', '# Installed by the felhom-agent package. Put'],
  ];
  let unit = text;
  for (const [from, to] of replacements) {
    if (!unit.includes(from)) throw new BuildError(`templates/systemd/felhom-agent.service no longer contains ${JSON.stringify(from)}: update tools/build-deb.mjs`);
    unit = unit.replace(from, to);
  }
  return unit;
}

function dpkgArch() {
  return execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
}

const POSTINST = `#!/bin/sh
# felhom-agent postinst: the agent's state directory, private to root (docs/operator-guide.md).
set -e
if [ "$1" = configure ]; then
  install -d -m 0700 /var/lib/felhom-agent /var/lib/felhom-agent/keys /var/lib/felhom-agent/secrets
  chmod 0700 /var/lib/felhom-agent /var/lib/felhom-agent/keys /var/lib/felhom-agent/secrets
  # The guests' local-API sockets: traversable (never listable), since each guest's unprivileged
  # root reaches its own through a bind mount (docs/agent.md "Deploying the controller").
  install -d -m 0711 /var/lib/felhom-local-api
  chmod 0711 /var/lib/felhom-local-api
  chmod 0640 /etc/felhom/agent.env
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
  echo "felhom-agent: put the hub API key, agent key and trust store in /var/lib/felhom-agent (docs/operator-guide.md §2),"
  echo "felhom-agent: set /etc/felhom/agent.env, then: systemctl enable --now felhom-agent"
fi
exit 0
`;

const PRERM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
  systemctl stop felhom-agent.service || true
fi
exit 0
`;

const POSTRM = `#!/bin/sh
# The state directory (journal, audit log, keys) stays on remove and purge: it is the box's record.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload || true
fi
exit 0
`;

const AGENT_ENV = `# The box agent's settings (felhom-agent.service reads this file).
FELHOM_HUB_URL=https://hub.example
FELHOM_BOX=
FELHOM_TIER=host
`;

const WRAPPER = `#!/bin/sh
# The felhom command of the felhom-agent package, on its own Node runtime.
exec ${PREFIX}/node ${PREFIX}/bin/felhom.js "$@"
`;

async function build() {
  const manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  if (!(await exists(join(root, 'dist', 'cli', 'main.js')))) throw new BuildError('dist/ is missing: run npm run build first');
  const nodeBinary = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!(await exists(nodeBinary))) throw new BuildError(`the project's Node runtime is missing at ${nodeBinary}: run npm ci`);
  const arch = dpkgArch();
  const version = manifest.version;
  const out = resolve(option('--out') ?? join(root, 'dist'));
  const stage = await mkdtemp(join(tmpdir(), 'felhom-deb-'));
  try {
    const lib = join(stage, PREFIX);
    await mkdir(lib, { recursive: true });
    await cp(nodeBinary, join(lib, 'node'));
    for (const folder of ['bin', 'dist', 'templates']) await cp(join(root, folder), join(lib, folder), { recursive: true });
    await rm(join(lib, 'dist', 'test'), { recursive: true, force: true });
    await rm(join(lib, 'dist', 'bench'), { recursive: true, force: true });
    await writeFile(join(lib, 'package.json'), JSON.stringify({ ...manifest, devDependencies: undefined, scripts: undefined }, null, 2));
    for (const module of await productionModules()) await cp(join(root, module), join(lib, module), { recursive: true, verbatimSymlinks: true });
    if (await exists(join(root, '.engine', 'bin', 'pulumi'))) {
      await cp(join(root, '.engine', 'bin'), join(lib, '.engine', 'bin'), { recursive: true });
      if (await exists(join(root, '.engine', 'plugins'))) await cp(join(root, '.engine', 'plugins'), join(lib, '.engine', 'plugins'), { recursive: true });
    }
    await mkdir(join(stage, 'usr', 'bin'), { recursive: true });
    await writeFile(join(stage, 'usr', 'bin', 'felhom'), WRAPPER, { mode: 0o755 });
    await mkdir(join(stage, 'lib', 'systemd', 'system'), { recursive: true });
    await writeFile(join(stage, 'lib', 'systemd', 'system', 'felhom-agent.service'), await unitText(), { mode: 0o644 });
    await mkdir(join(stage, 'etc', 'felhom'), { recursive: true });
    await writeFile(join(stage, 'etc', 'felhom', 'agent.env'), AGENT_ENV, { mode: 0o640 });
    const docs = join(stage, 'usr', 'share', 'doc', 'felhom-agent');
    await mkdir(docs, { recursive: true });
    for (const doc of ['operator-guide.md', 'agent.md', 'runbook.md']) await cp(join(root, 'docs', doc), join(docs, doc));

    const control = join(stage, 'DEBIAN');
    await mkdir(control, { recursive: true });
    const installedKiB = execFileSync('du', ['-sk', '--exclude=DEBIAN', stage], { encoding: 'utf8' }).split('\t')[0];
    await writeFile(
      join(control, 'control'),
      [
        'Package: felhom-agent',
        `Version: ${version}`,
        `Architecture: ${arch}`,
        'Maintainer: Felhom operators <ops@felhom.hu>',
        `Installed-Size: ${installedKiB}`,
        'Depends: libc6 (>= 2.28), libstdc++6, ca-certificates',
        'Section: admin',
        'Priority: optional',
        'Description: Felhom box agent',
        ' Pulls signed box specs from the Felhom hub, verifies the operator signatures,',
        ' applies them with the Pulumi engine and reports back. Brings its own Node runtime.',
        '',
      ].join('\n'),
    );
    await writeFile(join(control, 'conffiles'), '/etc/felhom/agent.env\n');
    for (const [name, text] of Object.entries({ postinst: POSTINST, prerm: PRERM, postrm: POSTRM })) await writeFile(join(control, name), text, { mode: 0o755 });
    await chmod(stage, 0o755);

    await mkdir(out, { recursive: true });
    const file = join(out, `felhom-agent_${version}_${arch}.deb`);
    const compression = process.argv.includes('--fast') ? ['-Zgzip', '-z1'] : ['-Zxz'];
    execFileSync('dpkg-deb', ['--root-owner-group', ...compression, '--build', stage, file], { stdio: ['ignore', 'ignore', 'inherit'] });
    return file;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

try {
  console.log(await build());
} catch (error) {
  console.error(`[deb] ${error instanceof BuildError ? error.message : error.stack}`);
  process.exit(1);
}
