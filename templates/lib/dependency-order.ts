/**
 * The order services start in: each after the ones it depends on, manifest order otherwise.
 * One walk for the catalog validator (which reports every cycle) and the AppStack component
 * (which creates containers in this order).
 */

export interface Dependent {
  readonly name: string;
  readonly dependsOn?: readonly string[];
}

/**
 * Services ordered so each comes after the ones it depends on, and every dependency cycle met
 * on the way (`['a', 'b', 'a']`). A dependency naming no service is passed over: reporting it
 * is the validator's own rule.
 */
export function dependencyOrder<S extends Dependent>(services: readonly S[]): { ordered: S[]; cycles: string[][] } {
  const byName = new Map(services.map((service) => [service.name, service]));
  const ordered: S[] = [];
  const cycles: string[][] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (service: S, trail: readonly string[]): void => {
    if (state.get(service.name) === 'done') return;
    if (state.get(service.name) === 'visiting') {
      cycles.push([...trail.slice(trail.indexOf(service.name)), service.name]);
      return;
    }
    state.set(service.name, 'visiting');
    for (const dependency of service.dependsOn ?? []) {
      const next = byName.get(dependency);
      if (next) visit(next, [...trail, service.name]);
    }
    state.set(service.name, 'done');
    ordered.push(service);
  };
  for (const service of services) visit(service, []);
  return { ordered, cycles };
}

/** `a → b → a`, as messages show a cycle. */
export function formatCycle(cycle: readonly string[]): string {
  return cycle.join(' → ');
}
