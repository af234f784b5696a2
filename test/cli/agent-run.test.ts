import t from 'tap';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostOperationsFor } from '../../cli/commands/agent-run.js';
import { ProxmoxCliOperations } from '../../runner/agent/proxmox-operations.js';

t.test('on a Proxmox host (pct on PATH) the host-tier agent gets Proxmox operations', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'felhom-pct-'));
  writeFileSync(join(bin, 'pct'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, 'pct'), 0o755);
  const { hostOperations } = await hostOperationsFor('host', { PATH: `/nonexistent:${bin}` });
  t.type(hostOperations, ProxmoxCliOperations);
});

t.test('without pct, or on another tier, there are none: snapshot, rollback and restore jobs are refused', async (t) => {
  t.same(await hostOperationsFor('host', { PATH: mkdtempSync(join(tmpdir(), 'felhom-nopct-')) }), {});
  const bin = mkdtempSync(join(tmpdir(), 'felhom-pct-'));
  writeFileSync(join(bin, 'pct'), '#!/bin/sh\nexit 0\n');
  chmodSync(join(bin, 'pct'), 0o755);
  t.same(await hostOperationsFor('guest', { PATH: bin }), {});
  t.same(await hostOperationsFor('edge', { PATH: bin }), {});
});

t.test('a pct that is not executable does not count', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'felhom-pct-'));
  writeFileSync(join(bin, 'pct'), 'not a program');
  chmodSync(join(bin, 'pct'), 0o644);
  t.same(await hostOperationsFor('host', { PATH: bin }), {});
});
