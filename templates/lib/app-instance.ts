/**
 * What one instance of a catalog app may set, checked against its manifest: parameter values
 * and where its volumes go. One rule for the box spec validator (an app of the spec) and the
 * AppStack component (its arguments), so `felhom validate` and `felhom plan` cannot disagree.
 */
import type { AppManifest, VolumeSpec } from './manifest.js';
import type { Problem } from './problems.js';

/**
 * Every problem with the values given for a manifest's parameters, each at the parameter's
 * name: an unknown parameter, a value of the wrong type, a required one without value or default.
 */
export function parameterValueProblems(manifest: AppManifest, given: Readonly<Record<string, unknown>> = {}): Problem[] {
  const problems: Problem[] = [];
  const declared = new Map((manifest.parameters ?? []).map((parameter) => [parameter.name, parameter]));
  for (const [name, value] of Object.entries(given)) {
    const parameter = declared.get(name);
    if (!parameter) problems.push({ path: name, message: `unknown parameter of ${manifest.name}; expected one of ${[...declared.keys()].join(', ') || '(none)'}` });
    else if (typeof value !== parameter.type) problems.push({ path: name, message: `expected a ${parameter.type}, got ${typeof value}` });
  }
  for (const parameter of declared.values()) {
    if (parameter.required && parameter.default === undefined && given[parameter.name] === undefined) {
      problems.push({ path: parameter.name, message: `required by ${manifest.name}: ${parameter.description}` });
    }
  }
  return problems;
}

/** The manifest's volume of that name, or why there is none. */
export function manifestVolume(manifest: AppManifest, name: string): VolumeSpec | string {
  const volumes = manifest.volumes ?? [];
  return volumes.find((volume) => volume.name === name) ?? `${manifest.name} has no volume "${name}"; expected one of ${volumes.map((volume) => volume.name).join(', ') || '(none)'}`;
}

/**
 * Why `volume` cannot be a bind mount on a bulk mount point (`where`), or undefined: hot data
 * (DB, config, cache) stays on the guest root filesystem, fast and inside the guest backup
 * (docs/architecture.md#data-placement).
 */
export function bindMountProblem(volume: VolumeSpec, where: string): string | undefined {
  if (volume.class !== 'hot') return undefined;
  return `hot volume "${volume.name}" must stay on the guest root filesystem (storage: rootfs), inside the guest backup; ${where} would be a bind mount on a bulk mount point`;
}
