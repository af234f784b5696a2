/**
 * The one Pulumi mock harness every component and stack test shares.
 *
 * Importing this module installs Pulumi's mock runtime (`pulumi.runtime.setMocks`) before any
 * test creates a resource, and puts a recorder in front of the mock monitor. The recorder keeps
 * every registered resource — type token, logical name, URN, parent URN, inputs (with the
 * paths that arrived as secrets), provider reference and the resource options that guard
 * customer data (`protect`, `ignoreChanges`, `deleteBeforeReplace`, `retainOnDelete`,
 * `additionalSecretOutputs`, aliases) — and records every provider function call.
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
import { createRequire } from 'node:module';
import * as pulumi from '@pulumi/pulumi';
import { ComponentArgsError } from '../../components/validation.js';

const require = createRequire(import.meta.url);
// Internal to @pulumi/pulumi: waits until every outstanding registration RPC has finished.
const { waitForRPCs } = require('@pulumi/pulumi/runtime/settings') as { waitForRPCs: () => Promise<void> };
const rpc = require('@pulumi/pulumi/runtime/rpc') as { specialSigKey: string; specialSecretSig: string };

/** What the recorder knows about one registered resource. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  readonly urn: string;
  /** `true` for provider-managed resources, `false` for components. */
  readonly custom: boolean;
  /** The parent's URN; `undefined` only for the stack's root resources. */
  readonly parent: string | undefined;
  /** Inputs with secrets unwrapped to their plain values. */
  readonly inputs: Record<string, any>;
  /** Dotted paths of inputs that arrived as secrets (`environment.TUNNEL_TOKEN`, `password`). */
  readonly secretPaths: readonly string[];
  /** The provider reference (`<provider urn>::<provider id>`), when one was given. */
  readonly provider: string | undefined;
  readonly protect: boolean;
  readonly ignoreChanges: readonly string[];
  readonly replaceOnChanges: readonly string[];
  /** `undefined` when the option was not set at all. */
  readonly deleteBeforeReplace: boolean | undefined;
  readonly retainOnDelete: boolean;
  readonly additionalSecretOutputs: readonly string[];
  readonly dependencies: readonly string[];
}

/** A recorded provider function call (invoke). */
export interface RecordedCall {
  readonly token: string;
  readonly inputs: Record<string, any>;
}

type OutputsFn = (inputs: Record<string, any>, name: string) => Record<string, any>;
type CallFn = (inputs: Record<string, any>) => Record<string, any>;

interface PendingOptions {
  parent: string | undefined;
  protect: boolean;
  ignoreChanges: string[];
  replaceOnChanges: string[];
  deleteBeforeReplace: boolean | undefined;
  retainOnDelete: boolean;
  additionalSecretOutputs: string[];
  dependencies: string[];
}

/**
 * Outputs the real providers compute and the components read back, keyed by type token.
 * Values are deterministic so tests can assert on them.
 */
const computedOutputs: Record<string, OutputsFn> = {
  'random:index/randomPassword:RandomPassword': (inputs, name) => ({
    result: `pw-${name}`.padEnd(Number(inputs.length ?? 16), 'x').slice(0, Number(inputs.length ?? 16)),
  }),
  'random:index/randomBytes:RandomBytes': (inputs, name) => {
    const bytes = Buffer.alloc(Number(inputs.length ?? 32), name);
    return { base64: bytes.toString('base64'), hex: bytes.toString('hex') };
  },
  'docker:index/remoteImage:RemoteImage': (inputs) => ({
    imageId: `sha256:${Buffer.from(String(inputs.name)).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    repoDigest: String(inputs.name),
  }),
  'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared': () => ({
    // Cloudflare returns the tunnel's UUID as its id; the resource's `id` output mirrors it.
    status: 'inactive',
  }),
};

/** Ids the mock gives resources; the tunnel's id must look like a UUID. */
function mockId(type: string, name: string): string {
  if (type === 'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared') {
    const hex = Buffer.from(name).toString('hex').padEnd(32, '0').slice(0, 32);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  }
  return `${name}-id`;
}

function isWrappedSecret(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && (value as any)[rpc.specialSigKey] === rpc.specialSecretSig;
}

/** Unwraps secrets anywhere in a deserialized input tree, collecting the paths where they were. */
function unwrapSecrets(value: unknown, path: string, secretPaths: string[]): unknown {
  if (isWrappedSecret(value)) {
    secretPaths.push(path);
    return unwrapSecrets(value.value, path, []);
  }
  if (Array.isArray(value)) return value.map((item, index) => unwrapSecrets(item, `${path}[${index}]`, secretPaths));
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = unwrapSecrets(item, path ? `${path}.${key}` : key, secretPaths);
    return out;
  }
  return value;
}

function wrapSecret(value: unknown): unknown {
  return { [rpc.specialSigKey]: rpc.specialSecretSig, value };
}

class MockHarness {
  private readonly recorded: RecordedResource[] = [];
  private readonly calls: RecordedCall[] = [];
  private readonly unexpected: string[] = [];
  private readonly callHandlers = new Map<string, CallFn>();
  private readonly pending = new Map<string, PendingOptions[]>();

  readonly mocks: pulumi.runtime.Mocks = {
    newResource: (args) => {
      const options = this.takePending(args.type, args.name);
      const secretPaths: string[] = [];
      const inputs = unwrapSecrets(args.inputs ?? {}, '', secretPaths) as Record<string, any>;
      const id = args.custom ? mockId(args.type, args.name) : undefined;
      const urn = this.urnFor(options.parent, args.type, args.name);
      this.recorded.push({
        type: args.type,
        name: args.name,
        urn,
        custom: args.custom ?? false,
        parent: options.parent,
        inputs,
        secretPaths,
        provider: args.provider || undefined,
        protect: options.protect,
        ignoreChanges: options.ignoreChanges,
        replaceOnChanges: options.replaceOnChanges,
        deleteBeforeReplace: options.deleteBeforeReplace,
        retainOnDelete: options.retainOnDelete,
        additionalSecretOutputs: options.additionalSecretOutputs,
        dependencies: options.dependencies,
      });
      // Echo the inputs back as state, as a provider does, then add what the provider computes.
      // Secret inputs stay secret, and `additionalSecretOutputs` are made secret as the engine does.
      const state: Record<string, any> = { ...(args.inputs ?? {}), ...(computedOutputs[args.type]?.(inputs, args.name) ?? {}) };
      for (const key of options.additionalSecretOutputs) {
        if (key in state && !isWrappedSecret(state[key])) state[key] = wrapSecret(state[key]);
      }
      return { id, state };
    },
    call: (args) => {
      const inputs = unwrapSecrets(args.inputs ?? {}, '', []) as Record<string, any>;
      this.calls.push({ token: args.token, inputs });
      const handler = this.callHandlers.get(args.token);
      if (!handler) {
        this.unexpected.push(args.token);
        const message = `unexpected provider call ${args.token}: declare it with mocks.onCall() if the component is meant to make it`;
        // Pulumi's invoke rethrows only the gRPC-style `details` of the error.
        throw Object.assign(new Error(message), { details: message });
      }
      return handler(inputs);
    },
  };

  /** Installs the mock runtime and the recorder in front of the mock monitor. */
  install(): void {
    void pulumi.runtime.setMocks(this.mocks, 'felhom', 'test', false);
    const monitor = (pulumi.runtime as any).getMonitor() as { registerResource: (req: any, cb: any) => unknown };
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req: any, callback: any) => {
      const key = `${req.getType()}::${req.getName()}`;
      const queue = this.pending.get(key) ?? [];
      queue.push({
        parent: req.getParent() || undefined,
        protect: Boolean(req.getProtect()),
        ignoreChanges: req.getIgnorechangesList(),
        replaceOnChanges: req.getReplaceonchangesList(),
        deleteBeforeReplace: req.getDeletebeforereplacedefined() ? req.getDeletebeforereplace() : undefined,
        retainOnDelete: Boolean(req.getRetainondelete()),
        additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
        dependencies: req.getDependenciesList(),
      });
      this.pending.set(key, queue);
      return original(req, callback);
    };
  }

  private takePending(type: string, name: string): PendingOptions {
    const queue = this.pending.get(`${type}::${name}`);
    const found = queue?.shift();
    return (
      found ?? {
        parent: undefined,
        protect: false,
        ignoreChanges: [],
        replaceOnChanges: [],
        deleteBeforeReplace: undefined,
        retainOnDelete: false,
        additionalSecretOutputs: [],
        dependencies: [],
      }
    );
  }

  /** The same URN the mock monitor hands out, so parents can be matched to their children. */
  private urnFor(parent: string | undefined, type: string, name: string): string {
    let qualifiedType = type;
    if (parent) qualifiedType = `${parent.split('::')[2]!.split('$').pop()}$${type}`;
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualifiedType}::${name}`;
  }

  /** Forgets every recorded resource, call and handler: call it in `t.beforeEach`. */
  reset(): void {
    this.recorded.length = 0;
    this.calls.length = 0;
    this.unexpected.length = 0;
    this.callHandlers.clear();
    this.pending.clear();
  }

  /** Declares a provider function the code under test may call, and what it returns. */
  onCall(token: string, handler: CallFn): void {
    this.callHandlers.set(token, handler);
  }

  /** Waits until every registration sent so far has been answered. */
  async settle(): Promise<void> {
    await waitForRPCs();
  }

  /** Every recorded resource, in registration order. */
  get resources(): readonly RecordedResource[] {
    return this.recorded;
  }

  get recordedCalls(): readonly RecordedCall[] {
    return this.calls;
  }

  /** Tokens of provider calls nobody declared. */
  get unexpectedCalls(): readonly string[] {
    return this.unexpected;
  }

  /** Resources of one type token, optionally narrowed to one logical name. */
  find(type: string, name?: string): RecordedResource[] {
    return this.recorded.filter((r) => r.type === type && (name === undefined || r.name === name));
  }

  /** The single resource of a type (and name); throws when there are none or several. */
  one(type: string, name?: string): RecordedResource {
    const found = this.find(type, name);
    if (found.length !== 1) {
      const label = name === undefined ? type : `${type} "${name}"`;
      throw new Error(`expected exactly one ${label}, found ${found.length}: ${this.recorded.map((r) => `${r.type}::${r.name}`).join(', ')}`);
    }
    return found[0]!;
  }

  /** The resources whose parent is the given resource (by URN). */
  childrenOf(parent: RecordedResource | string): RecordedResource[] {
    const urn = typeof parent === 'string' ? parent : parent.urn;
    return this.recorded.filter((r) => r.parent === urn);
  }

  /** `type::name` of every recorded resource, sorted: for exact "these and only these" checks. */
  inventory(filter: (r: RecordedResource) => boolean = () => true): string[] {
    return this.recorded.filter(filter).map((r) => `${r.type}::${r.name}`).sort();
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

/**
 * Runs `build` and returns the ComponentArgsError it throws, failing the test when it throws
 * anything else or nothing. Checks the class and code, not only that something threw.
 */
/** The few assertions {@link argsErrorFrom} needs from a tap test. */
export interface Asserts {
  type(value: unknown, klass: Function, ...rest: any[]): unknown;
  equal(found: unknown, wanted: unknown, ...rest: any[]): unknown;
  fail(...rest: any[]): unknown;
}

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
