/** How `felhom hub reports` shows one report to a person: what changed, how long, and why it failed. */
import type { EngineSummary, Report } from '../runner/hub/protocol.js';

/** `2 created, 1 updated, 1 replaced, 0 deleted, 7 unchanged`; an older agent's report counted replacements as updates. */
export function describeChanges(engine: EngineSummary): string {
  const changed =
    engine.replaced === undefined
      ? [`${engine.created} created`, `${engine.updated} updated or replaced`]
      : [`${engine.created} created`, `${engine.updated} updated`, `${engine.replaced} replaced`];
  return [...changed, `${engine.deleted} deleted`, `${engine.same} unchanged`].join(', ');
}

/** The report's line, then the engine's first error lines indented under it. */
export function reportLines(report: Report): string[] {
  const parts = [report.receivedAt, `${report.box}/${report.tier}`, report.outcome.padEnd(9)];
  parts.push(`sha256 ${report.jobId.slice(0, 12)}`);
  if (report.serial !== undefined) parts.push(`serial ${report.serial}`);
  if (report.engine) parts.push(describeChanges(report.engine));
  if (report.durationMs !== undefined) parts.push(`${(report.durationMs / 1000).toFixed(1)}s`);
  if (report.reason) parts.push(`${report.reason.code}: ${report.reason.message}`);
  return [parts.join('  '), ...(report.errors ?? []).map((line) => `    engine: ${line}`)];
}
