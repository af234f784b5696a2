/**
 * The one Pulumi mock harness every component and stack test shares.
 *
 * Importing this module installs the product's mock runtime recorder (stacks/mock-runtime.ts,
 * the same one `felhom plan` runs on) before any test creates a resource. It keeps every
 * registered resource — type token, logical name, URN, parent URN, inputs with secrets unwrapped
 * (and the paths that were secret), provider reference and the resource options that guard
 * customer data (`protect`, `ignoreChanges`, `deleteBeforeReplace`, `retainOnDelete`,
 * `additionalSecretOutputs`, dependencies) — and every provider function call. This module adds
 * the test side: lookups, and failing on undeclared calls.
 *
 * An invoke nobody declared with {@link onCall} fails the call and is listed in
 * {@link unexpectedCalls}: a component must not quietly start calling a provider at plan time.
 *
 * Usage (import the harness first, then the code under test):
 *
 *   import { mocks } from '../helpers/mocks.js';
 *   import { CustomerLxc } from '../../components/customer-lxc.js';
 *   t.beforeEach(() => mocks.reset());
 *   new CustomerLxc('box', args);
 *   await mocks.settle();
 *   const ct = mocks.one('proxmoxve:index/containerLegacy:ContainerLegacy');
 */
import * as pulumi from '@pulumi/pulumi';
import { ComponentArgsError } from '../../components/validation.js';
import { MockRecorder, type RecordedCall, type Registration } from '../../stacks/mock-runtime.js';

/** What the recorder knows about one registered resource (`parent` is the parent's URN). */
export type RecordedResource = Registration;
export type { RecordedCall };

type CallFn = (inputs: Record<string, any>) => Record<string, any>;

class MockHarness {
  private readonly unexpected: string[] = [];
  private readonly callHandlers = new Map<string, CallFn>();
  private readonly recorder = new MockRecorder({ project: 'felhom', stack: 'test', onInvoke: (call) => this.answer(call) });

  /** Installs the mock runtime and the recorder in front of the mock monitor. */
  install(): void {
    this.recorder.install();
  }

  /** Answers a declared call; fails and lists one nobody declared. */
  private answer(call: RecordedCall): Record<string, any> {
    const handler = this.callHandlers.get(call.token);
    if (handler) return handler(call.inputs);
    this.unexpected.push(call.token);
    const message = `unexpected provider call ${call.token}: declare it with mocks.onCall() if the component is meant to make it`;
    // Pulumi's invoke rethrows only the gRPC-style `details` of the error.
    throw Object.assign(new Error(message), { details: message });
  }

  /** Forgets every recorded resource, call and handler: call it in `t.beforeEach`. */
  reset(): void {
    this.recorder.reset();
    this.unexpected.length = 0;
    this.callHandlers.clear();
  }

  /** Declares a provider function the code under test may call, and what it returns. */
  onCall(token: string, handler: CallFn): void {
    this.callHandlers.set(token, handler);
  }

  /** Waits until every registration sent so far has been answered. */
  settle(): Promise<void> {
    return this.recorder.settle();
  }

  /** Every recorded resource, in registration order. */
  get resources(): readonly RecordedResource[] {
    return this.recorder.registrations;
  }

  get recordedCalls(): readonly RecordedCall[] {
    return this.recorder.calls;
  }

  /** Tokens of provider calls nobody declared. */
  get unexpectedCalls(): readonly string[] {
    return this.unexpected;
  }

  /** Resources of one type token, optionally narrowed to one logical name. */
  find(type: string, name?: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type && (name === undefined || r.name === name));
  }

  /** The single resource of a type (and name); throws when there are none or several. */
  one(type: string, name?: string): RecordedResource {
    const found = this.find(type, name);
    if (found.length !== 1) {
      const label = name === undefined ? type : `${type} "${name}"`;
      throw new Error(`expected exactly one ${label}, found ${found.length}: ${this.resources.map((r) => `${r.type}::${r.name}`).join(', ')}`);
    }
    return found[0]!;
  }

  /** The resources whose parent is the given resource (by URN). */
  childrenOf(parent: RecordedResource | string): RecordedResource[] {
    const urn = typeof parent === 'string' ? parent : parent.urn;
    return this.resources.filter((r) => r.parent === urn);
  }

  /** `type::name` of every recorded resource, sorted: for exact "these and only these" checks. */
  inventory(filter: (r: RecordedResource) => boolean = () => true): string[] {
    return this.resources.filter(filter).map((r) => `${r.type}::${r.name}`).sort();
  }
}

export const mocks = new MockHarness();
mocks.install();

/** Resolves an Output's value (unknowns during preview resolve to `undefined`). */
export function promiseOf<T>(output: pulumi.Input<T> | undefined): Promise<T> {
  return new Promise<T>((resolve) => pulumi.output(output as pulumi.Input<T>).apply((value) => resolve(value as T)));
}

/** Whether an Output is marked secret. */
export async function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  return pulumi.isSecret(output);
}

/** A throwaway ProviderResource for checking that components pass providers through. */
export function mockProvider(pkg: string, name = `${pkg}-provider`): pulumi.ProviderResource {
  return new (class extends pulumi.ProviderResource {
    constructor() {
      super(pkg, name, {}, {});
    }
  })();
}

/** The few assertions {@link argsErrorFrom} needs from a tap test. */
export interface Asserts {
  type(value: unknown, klass: Function, ...rest: any[]): unknown;
  equal(found: unknown, wanted: unknown, ...rest: any[]): unknown;
  fail(...rest: any[]): unknown;
}

/**
 * Runs `build` and returns the ComponentArgsError it throws, failing the test when it throws
 * anything else or nothing. Checks the class and code, not only that something threw.
 */
export function argsErrorFrom(t: Asserts, build: () => unknown): ComponentArgsError | undefined {
  try {
    build();
  } catch (error) {
    t.type(error, ComponentArgsError, 'throws a ComponentArgsError');
    t.equal((error as ComponentArgsError).code, 'ECOMPONENTARGS');
    return error as ComponentArgsError;
  }
  t.fail('expected a ComponentArgsError, nothing was thrown');
  return undefined;
}
