/**
 * Component args that may hold another resource's outputs (docs/architecture.md#library).
 *
 * A component's rule table (components/rules/) checks plain values, because the box spec
 * validator runs the same rules on a spec. A Pulumi program that uses a component directly may
 * pass an output instead (a storage id from a StorageTarget, a zone id from a lookup). Plain args
 * are checked at once, in the constructor, as before. Args holding an output are checked when
 * every value is known, inside `.apply`: the returned gate is threaded into one child input, so
 * a bad value fails that child's registration (and so the update) with the same
 * ComponentArgsError, and an unknown value during a preview waits instead of being judged.
 */
import * as pulumi from '@pulumi/pulumi';
import { assertValidArgs, ComponentArgsError, type Rule } from './validation.js';

/**
 * `T` with the fields `K` accepting `pulumi.Input`s; the other fields stay plain. Distributes
 * over a union of args types (StorageTarget's `type` variants), keeping each variant's fields.
 */
export type WithInputs<T, K extends PropertyKey> = T extends unknown
  ? Omit<T, K & keyof T> & { readonly [P in keyof Pick<T, K & keyof T>]: pulumi.Input<T[P]> }
  : never;

/** Whether a value holds an output or a promise anywhere inside, i.e. is not plain yet. */
export function holdsOutputs(value: unknown): boolean {
  if (pulumi.Output.isInstance(value)) return true;
  if (value instanceof Promise) return true;
  if (Array.isArray(value)) return value.some(holdsOutputs);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value).some(holdsOutputs);
  return false;
}

/**
 * Checks a component's args against its rules: now when they are plain (throws
 * ComponentArgsError), else once they are known. Returns undefined for plain args, or an
 * `Output<true>` that rejects with the ComponentArgsError when a rule is broken; pass it to
 * {@link gated} on one child input. The gate is never secret: it carries no value of the args.
 *
 * `watched` narrows which fields' outputs defer the check, for a component whose rules already
 * accept an output in some field (Tunnel's `routes[].service`): outputs only there keep the
 * check in the constructor. @default - every field
 */
export function checkInputs<A>(component: string, resourceName: string, rules: readonly Rule<A>[], args: unknown, watched?: readonly string[]): pulumi.Output<true> | undefined {
  const looked = watched === undefined ? args : watched.map((field) => (args as Record<string, unknown>)[field]);
  if (!holdsOutputs(looked)) {
    assertValidArgs(component, resourceName, rules, args as A);
    return undefined;
  }
  return pulumi.unsecret(
    pulumi.output(args as pulumi.Input<object>).apply((plain) => {
      assertValidArgs(component, resourceName, rules, plain as A);
      return true as const;
    }),
  );
}

/** `value`, made to wait for (and fail with) a {@link checkInputs} gate; `value` itself when there is none. */
export function gated<T>(gate: pulumi.Output<true> | undefined, value: pulumi.Input<T>): pulumi.Input<T> {
  if (gate === undefined) return value;
  return pulumi.all([gate, value]).apply(([, known]) => known as T);
}

/**
 * A value that must be plain (it goes into a resource option, such as an import id, which
 * cannot wait for an output): a ComponentArgsError naming the field when an output is given.
 */
export function plainFor<T>(component: string, resourceName: string, field: string, why: string, value: pulumi.Input<T>): T {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) {
    throw new ComponentArgsError(component, resourceName, [{ field, message: `expected a plain value, got an output (${why})` }]);
  }
  return value as T;
}
