import t from 'tap';
import { firingMinutes, recoveryObjectiveLines, recoveryObjectives, survives } from '../../stacks/recovery-objectives.js';
import type { BoxSpec, StorageSpec } from '../../stacks/spec/types.js';
import { companyBox, homeBox } from '../helpers/box-spec.js';

const spec = (draft: unknown) => draft as BoxSpec;

t.test('the home box: nightly NAS, weekly offsite, weekly bulk', async (t) => {
  const objectives = recoveryObjectives(spec(homeBox()));
  t.same(objectives.guests, [
    { scope: 'disk-loss', sources: ['nas-backup', 'offsite'], rpoHours: 24, rtoHours: 0.7, restoreFrom: 'nas-backup' },
    { scope: 'box-loss', sources: ['nas-backup', 'offsite'], rpoHours: 24, rtoHours: 1.2, restoreFrom: 'nas-backup' },
    { scope: 'site-loss', sources: ['offsite'], rpoHours: 168, rtoHours: 2.8, restoreFrom: 'offsite' },
  ]);
  t.same(objectives.bulk, [
    { scope: 'disk-loss', sources: ['nas-backup'], rpoHours: 168 },
    { scope: 'box-loss', sources: ['nas-backup'], rpoHours: 168 },
    { scope: 'site-loss', sources: [], rpoHours: null, note: 'bulk data on nas-backup does not survive site-loss' },
  ]);
  const lines = recoveryObjectiveLines(objectives);
  t.match(lines[3], /site-loss\s+RPO 7 d\s+RTO 2.8 h\s+restore from offsite/);
});

t.test('the company box: nightly NAS at 01:00 and nightly offsite at 03:00', async (t) => {
  const objectives = recoveryObjectives(spec(companyBox()));
  t.same(objectives.guests.map((o) => [o.scope, o.rpoHours, o.rtoHours, o.restoreFrom]), [
    ['disk-loss', 22, 1.6, 'nas-backup'],
    ['box-loss', 22, 2.1, 'nas-backup'],
    ['site-loss', 24, 5.8, 'offsite'],
  ]);
  t.equal(objectives.bulk, undefined);
});

t.test('a guest no surviving job covers, and a schedule this estimate cannot read, give no figure and say why', async (t) => {
  const onlyNas = recoveryObjectives(spec(homeBox((draft) => {
    draft.spec.backup!.jobs = draft.spec.backup!.jobs.filter((job) => job.storage !== 'offsite');
  })));
  t.match(onlyNas.guests[2], { scope: 'site-loss', rpoHours: null, rtoHours: null, note: 'no backup of guest customer survives site-loss' });
  const odd = recoveryObjectives(spec(homeBox((draft) => {
    draft.spec.backup!.jobs[0]!.schedule = '2026-01-01 02:00';
    draft.spec.backup!.bulk!.schedule = 'monthly';
  })));
  t.match(odd.guests[0], { rpoHours: null, note: /not one this estimate reads/ });
  t.match(odd.bulk![0], { rpoHours: null, note: /not one this estimate reads/ });
  t.match(recoveryObjectiveLines(odd).join('\n'), /RPO none/);
});

t.test('a USB disk is lost with the box, a NAS with the site; PBS survives all', async (t) => {
  const dir = { type: 'dir' } as StorageSpec;
  const nfs = { type: 'nfs' } as StorageSpec;
  const pbs = { type: 'pbs' } as StorageSpec;
  t.same([survives(dir, 'disk-loss'), survives(dir, 'box-loss'), survives(dir, 'site-loss')], [true, false, false]);
  t.same([survives(nfs, 'box-loss'), survives(nfs, 'site-loss')], [true, false]);
  t.ok(survives(pbs, 'site-loss'));
});

t.test('calendar events: the subset of Proxmox\'s syntax the estimate reads', async (t) => {
  t.equal(firingMinutes(['*-*-* 02:30'])!.length, 7);
  t.same(firingMinutes(['sun 04:00']), [6 * 1440 + 240]);
  t.equal(firingMinutes(['mon..fri 01:00'])!.length, 5);
  t.equal(firingMinutes(['mon,wed 1,13:00'])!.length, 4);
  t.equal(firingMinutes(['*:0/15'])!.length, 7 * 24 * 4);
  t.equal(firingMinutes(['hourly'])!.length, 7 * 24);
  t.equal(firingMinutes(['daily'])!.length, 7);
  t.same(firingMinutes(['weekly']), [0]);
  t.equal(firingMinutes(['*/6:00'])!.length, 28);
  for (const bad of ['2026-01-01 02:00', 'funday 01:00', 'fri..mon 01:00', '25:00', '*:0/0', '01:00 extra', 'nonsense']) t.equal(firingMinutes([bad]), null, bad);
});
