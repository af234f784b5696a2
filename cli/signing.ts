/**
 * What `felhom sign` needs besides signing: which (box, tier) envelopes one command makes, the
 * serial each gets (a number, or `next` from the hub's record), and where each is written.
 */
import { join } from 'node:path';
import { TIERS, type Tier } from '../stacks/spec/types.js';
import type { HubClient } from '../runner/hub/client.js';
import { usageError } from './errors.js';
import { positiveInteger } from './commands/envelope-io.js';

/** `--box a --box b,c` → [a, b, c]; `--tier host,guest` likewise. */
export function listOption(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((value) => value.split(',')).map((value) => value.trim()).filter(Boolean);
}

/** The tiers of `--tier`, each checked. */
export function tierList(values: readonly string[] | undefined, option = '--tier'): Tier[] {
  const tiers = listOption(values);
  if (tiers.length === 0) throw usageError(`${option} is required: one or more of ${TIERS.join(', ')}`);
  for (const tier of tiers) if (!TIERS.includes(tier as Tier)) throw usageError(`${option}: expected one of ${TIERS.join(', ')}, got ${JSON.stringify(tier)}`);
  return [...new Set(tiers)] as Tier[];
}

export interface Addressed {
  readonly box: string;
  readonly tier: Tier;
}

/**
 * The serial of each target, in order: `--serial <n>` gives every target that serial (so two
 * targets for one box and tier need `next`); `--serial next` asks the hub for the last serial
 * published for each (box, tier) and counts up from it.
 */
export async function serialsFor(targets: readonly Addressed[], option: unknown, hub: () => HubClient): Promise<number[]> {
  if (option === undefined) throw usageError('--serial is required: a number above the last one for this box and tier, or next (asks the hub)');
  const keys = targets.map((target) => `${target.box}/${target.tier}`);
  if (option !== 'next') {
    const serial = positiveInteger(option, '--serial');
    const repeated = keys.find((key, index) => keys.indexOf(key) !== index);
    if (repeated) throw usageError(`--serial ${serial}: two envelopes for ${repeated} cannot share a serial; use --serial next`);
    return targets.map(() => serial);
  }
  const client = hub();
  const last = new Map<string, number>();
  const serials: number[] = [];
  for (const [index, target] of targets.entries()) {
    const key = keys[index]!;
    const previous = last.get(key) ?? (await client.lastSerial(target.box, target.tier));
    last.set(key, previous + 1);
    serials.push(previous + 1);
  }
  return serials;
}

/** Where each envelope goes, as the user spelled it (relative to the working directory): `--out <file>` for one, `--out-dir <dir>` (`<box>.<tier>.<serial>.json`) for any number. */
export function outputPaths(targets: readonly (Addressed & { serial: number })[], options: { out?: unknown; outDir?: unknown }): (string | undefined)[] {
  if (options.out !== undefined && options.outDir !== undefined) throw usageError('pass either --out <file> or --out-dir <dir>, not both');
  if (typeof options.outDir === 'string') return targets.map((target) => join(options.outDir as string, envelopeFileName(target)));
  if (targets.length > 1) throw usageError(`${targets.length} envelopes need --out-dir <dir> (one file each: ${envelopeFileName(targets[0]!)}, ...)`);
  return [typeof options.out === 'string' ? options.out : undefined];
}

export function envelopeFileName(target: Addressed & { serial: number }): string {
  return `${target.box}.${target.tier}.${target.serial}.json`;
}
