/**
 * A stand-in for Proxmox's `pct` (pct(1)) on a machine that is not a Proxmox host: an executable
 * that keeps each container's configuration in PVE's format in `<root>/conf/<vmid>.conf` (the
 * agent's `$FELHOM_LXC_CONF_DIR`) and the rest under `<root>/<vmid>/` (its file system in
 * `rootfs/`, `exec.log` with one JSON argv per `pct exec`, `status`, `reboots`). It does what the
 * agent asks of pct the way pct does it: `status` prints `status: running` (or what `status`
 * says), `reboot` counts and mounts the configuration's `lxc.mount.entry` lines (as symbolic
 * links), `push <file> <dest> --perms <octal>` copies into the file system (the
 * directory must exist),
 * and `exec -- argv` runs mkdir and rm inside the file system, installs a package file with
 * apt-get as `dpkg-deb -x` does, answers dpkg-query from what was installed, answers `test -S`,
 * and records systemctl. A line in `<root>/fail` makes any call whose arguments contain it fail (exit 1).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Test } from 'tap';
import { tempDir } from './enrollment.js';

const SCRIPT = String.raw`
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const root = process.env.FAKE_PCT_ROOT;
const [command, vmid, ...rest] = process.argv.slice(2);
const dir = path.join(root, String(vmid));
const die = (code, message) => { process.stderr.write(message + '\n'); process.exit(code); };
const failFile = path.join(root, 'fail');
if (fs.existsSync(failFile)) {
  const pattern = fs.readFileSync(failFile, 'utf8').trim();
  if (pattern && process.argv.slice(2).join(' ').includes(pattern)) die(1, 'injected failure: ' + pattern);
}
if (!fs.existsSync(path.join(root, 'conf', vmid + '.conf'))) die(2, "Configuration file 'nodes/pve/lxc/" + vmid + ".conf' does not exist");
const rootfs = path.join(dir, 'rootfs');
const inside = (p) => path.join(rootfs, p);
switch (command) {
  case 'status':
    process.stdout.write('status: ' + (fs.existsSync(path.join(dir, 'status')) ? fs.readFileSync(path.join(dir, 'status'), 'utf8').trim() : 'running') + '\n');
    break;
  case 'reboot': {
    fs.appendFileSync(path.join(dir, 'reboots'), 'reboot\n');
    // LXC mounts the configuration's bind mounts at start; here, a symbolic link stands for each.
    const conf = fs.readFileSync(path.join(root, 'conf', vmid + '.conf'), 'utf8').split('\n[')[0];
    for (const line of conf.split('\n').filter((l) => l.startsWith('lxc.mount.entry:'))) {
      const [source, target] = line.slice('lxc.mount.entry:'.length).trim().split(/\s+/);
      fs.mkdirSync(path.dirname(inside(target)), { recursive: true });
      fs.rmSync(inside(target), { recursive: true, force: true });
      fs.symlinkSync(source, inside(target));
    }
    break;
  }
  case 'push': {
    const [file, dest, flag, perms] = rest;
    if (!fs.existsSync(path.dirname(inside(dest)))) die(255, 'failed to open ' + dest + ' for writing: No such file or directory');
    fs.copyFileSync(file, inside(dest));
    fs.chmodSync(inside(dest), flag === '--perms' ? parseInt(perms, 8) : 0o644);
    break;
  }
  case 'exec': {
    const argv = rest.slice(rest.indexOf('--') + 1);
    fs.appendFileSync(path.join(dir, 'exec.log'), JSON.stringify(argv) + '\n');
    const args = argv[0] === 'env' ? argv.slice(argv.findIndex((a, i) => i > 0 && !a.includes('='))) : argv;
    const db = inside('var/lib/dpkg/fake-status.json');
    const status = fs.existsSync(db) ? JSON.parse(fs.readFileSync(db, 'utf8')) : {};
    switch (args[0]) {
      case 'mkdir': case 'rm':
        execFileSync(args[0], args.slice(1).map((a) => (a.startsWith('/') ? inside(a) : a)));
        break;
      case 'dpkg-query':
        if (!status[args[args.length - 1]]) die(1, 'dpkg-query: no packages found matching ' + args[args.length - 1]);
        process.stdout.write(status[args[args.length - 1]]);
        break;
      case 'apt-get': {
        const deb = inside(args[args.length - 1]);
        execFileSync('dpkg-deb', ['-x', deb, rootfs]);
        const name = execFileSync('dpkg-deb', ['-f', deb, 'Package'], { encoding: 'utf8' }).trim();
        status[name] = execFileSync('dpkg-deb', ['-f', deb, 'Version'], { encoding: 'utf8' }).trim();
        fs.mkdirSync(path.dirname(db), { recursive: true });
        fs.writeFileSync(db, JSON.stringify(status));
        break;
      }
      case 'systemctl':
        break;
      case 'test':
        if (args[1] !== '-S') die(2, 'test: only -S here');
        if (!fs.existsSync(inside(args[2])) || !fs.statSync(inside(args[2])).isSocket()) process.exit(1);
        break;
      default:
        die(127, args[0] + ': command not found');
    }
    break;
  }
  default:
    die(255, 'ERROR: unknown command ' + JSON.stringify(command));
}
`;

export interface FakePct {
  /** The executable, for PctGuestShell's `pct` or `$FELHOM_PCT`. */
  readonly pct: string;
  /** The configuration directory, for PctGuestShell's `confDir` or `$FELHOM_LXC_CONF_DIR`. */
  readonly confDir: string;
  readonly root: string;
  /** Creates container `vmId` with these configuration lines (after a few of PVE's own) and an empty file system. */
  container(vmId: number, lines?: readonly string[]): Promise<void>;
  /** Its configuration file's text. */
  conf(vmId: number): Promise<string>;
  /** How many times it was rebooted. */
  reboots(vmId: number): Promise<number>;
  setStatus(vmId: number, status: string): Promise<void>;
  rootfs(vmId: number): string;
  /** Every `pct exec` argv so far. */
  execs(vmId: number): Promise<string[][]>;
  /** Calls whose arguments contain `pattern` fail from now on (undefined: none). */
  failOn(pattern: string | undefined): Promise<void>;
}

export async function fakePct(t: Test): Promise<FakePct> {
  const root = tempDir(t);
  const pct = join(root, 'pct');
  await writeFile(pct, `#!/bin/sh\nFAKE_PCT_ROOT='${root}' exec '${process.execPath}' '${join(root, 'pct.cjs')}' "$@"\n`, { mode: 0o755 });
  await writeFile(join(root, 'pct.cjs'), SCRIPT);
  return {
    pct,
    confDir: join(root, 'conf'),
    root,
    container: async (vmId, lines = []) => {
      await mkdir(join(root, String(vmId), 'rootfs'), { recursive: true });
      await mkdir(join(root, 'conf'), { recursive: true });
      await writeFile(join(root, 'conf', `${vmId}.conf`), ['arch: amd64', `hostname: ct${vmId}`, ...lines, 'unprivileged: 1', ''].join('\n'));
    },
    conf: (vmId) => readFile(join(root, 'conf', `${vmId}.conf`), 'utf8'),
    reboots: async (vmId) => (await readFile(join(root, String(vmId), 'reboots'), 'utf8').catch(() => '')).split('\n').filter(Boolean).length,
    setStatus: (vmId, status) => writeFile(join(root, String(vmId), 'status'), status),
    rootfs: (vmId) => join(root, String(vmId), 'rootfs'),
    execs: async (vmId) =>
      (await readFile(join(root, String(vmId), 'exec.log'), 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as string[]),
    failOn: async (pattern) => writeFile(join(root, 'fail'), pattern ?? ''),
  };
}
