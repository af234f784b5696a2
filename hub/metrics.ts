/**
 * The hub's /metrics, in Prometheus' text exposition format (version 0.0.4): counters this
 * replica keeps since it started (polls, publishes, reports, long-poll wake latency) and, at
 * each scrape, the fleet's boxes by state from the database. Labels never carry box ids or
 * anything secret: the page is meant for a scraper inside the cluster.
 */
import { BOX_STATES, type BoxState } from '../runner/hub/protocol.js';

/** Upper bounds (seconds) of the publish→wake latency histogram. */
export const WAKE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

type Labels = Readonly<Record<string, string>>;

class Counter {
  readonly #values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const key = JSON.stringify(labels);
    const entry = this.#values.get(key) ?? { labels, value: 0 };
    entry.value += by;
    this.#values.set(key, entry);
  }
  value(labels: Labels = {}): number {
    return this.#values.get(JSON.stringify(labels))?.value ?? 0;
  }
  render(): string[] {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`, ...[...this.#values.values()].map((e) => `${this.name}${formatLabels(e.labels)} ${e.value}`)];
  }
}

class Histogram {
  readonly #counts = WAKE_BUCKETS.map(() => 0);
  #sum = 0;
  #count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  observe(seconds: number): void {
    const value = Math.max(0, seconds);
    WAKE_BUCKETS.forEach((bound, index) => {
      if (value <= bound) this.#counts[index]!++;
    });
    this.#sum += value;
    this.#count++;
  }
  get count(): number {
    return this.#count;
  }
  render(): string[] {
    return [
      `# HELP ${this.name} ${this.help}`,
      `# TYPE ${this.name} histogram`,
      ...WAKE_BUCKETS.map((bound, index) => `${this.name}_bucket{le="${bound}"} ${this.#counts[index]}`),
      `${this.name}_bucket{le="+Inf"} ${this.#count}`,
      `${this.name}_sum ${this.#sum}`,
      `${this.name}_count ${this.#count}`,
    ];
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(',')}}`;
}

export class HubMetrics {
  readonly requests = new Counter('felhom_hub_requests_total', 'HTTP requests answered, by status code.');
  readonly polls = new Counter('felhom_hub_polls_total', 'Spec and job polls answered, by kind and status.');
  readonly publishes = new Counter('felhom_hub_publishes_total', 'Envelopes published through this replica, by type.');
  readonly reports = new Counter('felhom_hub_reports_total', 'Reports received by this replica, by outcome.');
  readonly wakeLatency = new Histogram('felhom_hub_longpoll_wake_seconds', 'From the commit of a change to a held long poll answering it, on any replica.');

  /** The page; `parked` is the long polls held now, `boxes` the fleet by state (null when it could not be read). */
  render(parked: number, boxes: Record<BoxState, number> | null): string {
    const lines = [
      ...this.requests.render(),
      ...this.polls.render(),
      ...this.publishes.render(),
      ...this.reports.render(),
      ...this.wakeLatency.render(),
      '# HELP felhom_hub_longpolls_parked Long polls this replica holds now.',
      '# TYPE felhom_hub_longpolls_parked gauge',
      `felhom_hub_longpolls_parked ${parked}`,
    ];
    if (boxes) {
      lines.push('# HELP felhom_hub_boxes Enrolled boxes by fleet state (felhom hub boxes).', '# TYPE felhom_hub_boxes gauge');
      for (const state of BOX_STATES) lines.push(`felhom_hub_boxes{state="${state}"} ${boxes[state]}`);
    }
    return `${lines.join('\n')}\n`;
  }
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
