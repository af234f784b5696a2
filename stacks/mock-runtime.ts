/**
 * Pulumi's mock runtime with a recorder in front of the mock monitor: the one place that runs a
 * Pulumi program offline and records what it registers. `felhom plan` uses it through
 * {@link recordProgram}; the component tests through test/helpers/mocks.ts. Nothing here
 * reaches a provider or a network.
 *
 * The recorder reads each registration off the wire request, before the mock runtime decodes it,
 * because decoding widens secretness to the enclosing value: one secret entry would hide all of
 * a container's `envs`, in the plan and from the no-plaintext-secrets policy alike.
 */
import * as pulumi from '@pulumi/pulumi';
import type { RegisterResourceRequest as RegisterRequest } from '@pulumi/pulumi/proto/resource_pb.js';

/** Inputs, with secret values replaced by this marker. */
export const SECRET_MARKER = '[secret]';
/** Inputs not known until the resource is created (an output of another resource). */
export const UNKNOWN_MARKER = '[computed]';

const { specialSigKey, specialSecretSig, specialResourceSig, unknownValue } = pulumi.runtime;
// Internal to @pulumi/pulumi (stripped from its typings): resolves once every outstanding RPC has.
const { waitForRPCs } = pulumi.runtime as unknown as { waitForRPCs(): Promise<void> };

/**
 * Everything recorded about one registered resource. Holds secret values in the clear, for tests
 * to assert on; anything that is printed goes through {@link maskedInputs} or {@link planned}.
 */
export interface Registration {
  /** Pulumi type token, for example `proxmoxve:index/containerLegacy:ContainerLegacy`. */
  readonly type: string;
  readonly name: string;
  /** The URN the mock monitor hands out. */
  readonly urn: string;
  /** `true` for provider-managed resources, `false` for components. */
  readonly custom: boolean;
  /** The parent's URN; `undefined` only for the stack's root resources. */
  readonly parent: string | undefined;
  /** Inputs as registered: secrets unwrapped to their plain values, unknowns as {@link UNKNOWN_MARKER}. */
  readonly inputs: Record<string, any>;
  /** Dotted paths of the inputs that were sent as secrets (`environment.TUNNEL_TOKEN`, `envs[2]`). */
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
  /** URNs of the resources this one depends on (`dependsOn` and input dependencies). */
  readonly dependencies: readonly string[];
  /** The `import` id of a resource adopted rather than created (`pve/200`). */
  readonly importId: string | undefined;
  /** The plugin version asked for (the `version` resource option), when one was. */
  readonly version?: string;
  /** The `aliases` option: what a renamed child was (docs/components.md#renaming-children). */
  readonly aliases: readonly RecordedAlias[];
}

/** One alias as the engine receives it: an old URN, or the old name / type / parent. */
export interface RecordedAlias {
  readonly urn?: string;
  readonly name?: string;
  readonly type?: string;
  readonly parentUrn?: string;
  readonly noParent?: boolean;
}

type GuardOptions = Pick<Registration, 'protect' | 'ignoreChanges' | 'replaceOnChanges' | 'retainOnDelete' | 'additionalSecretOutputs' | 'dependencies'>;

/** A registration as `felhom plan` and the offline policies see it: secrets masked, parent by name. */
export interface RecordedResource {
  readonly type: string;
  readonly name: string;
  /** The parent's name, or undefined for a top-level resource. */
  readonly parent?: string;
  /** The parent's type token. */
  readonly parentType?: string;
  /** True for provider-backed resources, false for components. */
  readonly custom: boolean;
  readonly urn: string;
  /** Inputs with secrets masked as {@link SECRET_MARKER} and unknowns as {@link UNKNOWN_MARKER}. */
  readonly inputs: Record<string, unknown>;
  /** Dotted paths of inputs that were secret (`environment.TUNNEL_TOKEN`). */
  readonly secretPaths: readonly string[];
  /** The provider reference, when one was given. */
  readonly provider?: string;
  /** The `import` id when the resource is adopted rather than created. */
  readonly importId?: string;
  /** Resource options that matter for safety; `deleteBeforeReplace` is false when not set. */
  readonly options: GuardOptions & { readonly deleteBeforeReplace: boolean };
}

/** A provider function call (invoke), inputs with secrets unwrapped. */
export interface RecordedCall {
  readonly token: string;
  readonly inputs: Record<string, any>;
}

/** Answers an invoke; throw to fail the call. */
export type InvokeHandler = (call: RecordedCall) => Record<string, any>;

export interface MockRecorderOptions {
  readonly project: string;
  readonly stack: string;
  /** Run as a preview: outputs nobody computed stay unknown. @default false */
  readonly preview?: boolean;
  /**
   * Answers invokes (data sources).
   * @default - permissive: every call is answered with its own inputs, so a plan never fails on
   *   a data source; what the program reads back from one is only what it asked with.
   */
  readonly onInvoke?: InvokeHandler;
}

const echoInputs: InvokeHandler = (call) => ({ ...call.inputs });

type ComputeOutputs = (inputs: Record<string, any>, name: string) => Record<string, unknown>;

/**
 * Outputs the real providers compute and the components read back, by type token. Values are
 * deterministic, so tests can assert on them and a plan reads the same every time.
 */
const PROVIDER_OUTPUTS: Record<string, ComputeOutputs> = {
  'random:index/randomPassword:RandomPassword': (inputs, name) => {
    const length = Number(inputs.length ?? 16);
    return { result: `pw-${name}`.padEnd(length, 'x').slice(0, length) };
  },
  'random:index/randomBytes:RandomBytes': (inputs, name) => {
    const bytes = Buffer.alloc(Number(inputs.length ?? 32), name);
    return { base64: bytes.toString('base64'), hex: bytes.toString('hex') };
  },
  'docker:index/remoteImage:RemoteImage': (inputs) => ({
    imageId: `sha256:${Buffer.from(String(inputs.name)).toString('hex').padEnd(64, '0').slice(0, 64)}`,
    repoDigest: String(inputs.name),
  }),
  'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared': () => ({ status: 'inactive' }),
};

/** Ids the mock gives custom resources; Cloudflare returns a tunnel's UUID as its id. */
function mockId(type: string, name: string): string {
  if (type === 'cloudflare:index/zeroTrustTunnelCloudflared:ZeroTrustTunnelCloudflared') {
    const hex = Buffer.from(name).toString('hex').padEnd(32, '0').slice(0, 32);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
  }
  return `${name}-id`;
}

function isPlainObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

function isWrappedSecret(value: unknown): value is { value: unknown } {
  return isPlainObject(value) && value[specialSigKey] === specialSecretSig;
}

/**
 * Decodes a wire-encoded input tree: secrets to their plain values (collecting the paths where
 * they were), unknowns to {@link UNKNOWN_MARKER}, resource references to their URN.
 */
function unwrap(value: unknown, path: string, secretPaths: string[]): unknown {
  if (value === unknownValue) return UNKNOWN_MARKER;
  if (Array.isArray(value)) return value.map((item, index) => unwrap(item, `${path}[${index}]`, secretPaths));
  if (!isPlainObject(value)) return value;
  if (isWrappedSecret(value)) {
    secretPaths.push(path);
    return unwrap(value.value, path, []);
  }
  if (value[specialSigKey] === specialResourceSig) return value.urn;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, unwrap(item, path ? `${path}.${key}` : key, secretPaths)]));
}

/** The inputs with every value at a secret path replaced by {@link SECRET_MARKER}: the only view of inputs fit to print. */
export function maskedInputs(registration: Pick<Registration, 'inputs' | 'secretPaths'>): Record<string, unknown> {
  const secret = new Set(registration.secretPaths);
  const mask = (value: unknown, path: string): unknown => {
    if (secret.has(path)) return SECRET_MARKER;
    if (Array.isArray(value)) return value.map((item, index) => mask(item, `${path}[${index}]`));
    if (!isPlainObject(value)) return value;
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, mask(item, path ? `${path}.${key}` : key)]));
  };
  return mask(registration.inputs, '') as Record<string, unknown>;
}

/** `urn:pulumi:stack::project::parentType$type::name` → name */
function nameOfUrn(urn: string): string {
  return urn.slice(urn.lastIndexOf('::') + 2);
}
/** `urn:pulumi:stack::project::parentType$type::name` → type */
function typeOfUrn(urn: string): string {
  const qualified = urn.split('::')[2] ?? '';
  return qualified.split('$').pop() ?? qualified;
}

/** A registration as the plan shows it: inputs masked, parent by name and type. */
export function planned(registration: Registration): RecordedResource {
  const { type, name, custom, urn, parent, secretPaths, provider, importId } = registration;
  const { protect, ignoreChanges, replaceOnChanges, deleteBeforeReplace, retainOnDelete, additionalSecretOutputs, dependencies } = registration;
  return {
    type,
    name,
    ...(parent ? { parent: nameOfUrn(parent), parentType: typeOfUrn(parent) } : {}),
    custom,
    urn,
    inputs: maskedInputs(registration),
    secretPaths,
    ...(provider ? { provider } : {}),
    ...(importId ? { importId } : {}),
    options: { protect, ignoreChanges, replaceOnChanges, deleteBeforeReplace: deleteBeforeReplace ?? false, retainOnDelete, additionalSecretOutputs, dependencies },
  };
}

interface PatchableMonitor {
  registerResource(request: RegisterRequest, callback: (error: unknown, response?: unknown) => void): unknown;
}

/**
 * Installs Pulumi's mock runtime and records every resource registration and provider call.
 * The mock runtime is process-global: one recorder is installed at a time, and installing
 * another replaces it.
 */
export class MockRecorder {
  private readonly recorded: Registration[] = [];
  private readonly invoked: RecordedCall[] = [];
  /** Registrations whose mock state is not computed yet, by `type::name`, oldest first. */
  private readonly pending = new Map<string, Registration[]>();
  private readonly onInvoke: InvokeHandler;

  constructor(private readonly options: MockRecorderOptions) {
    this.onInvoke = options.onInvoke ?? echoInputs;
  }

  /** Every registration so far, in the order the program sent them. */
  get registrations(): readonly Registration[] {
    return this.recorded;
  }

  get calls(): readonly RecordedCall[] {
    return this.invoked;
  }

  /** Installs the mock runtime and puts the recorder in front of its monitor. */
  install(): void {
    void pulumi.runtime.setMocks(
      { newResource: (args) => this.newResource(args), call: (args) => this.call(args) },
      this.options.project,
      this.options.stack,
      this.options.preview ?? false,
    );
    // setMocks sets the monitor synchronously; the promise it returns carries nothing.
    const monitor = pulumi.runtime.getMonitor() as unknown as PatchableMonitor;
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (request, callback) => {
      this.record(request);
      return original(request, callback);
    };
  }

  /** Forgets every registration and call. */
  reset(): void {
    this.recorded.length = 0;
    this.invoked.length = 0;
    this.pending.clear();
  }

  /** Waits until every registration sent so far, and every one those caused, has been answered. */
  async settle(): Promise<void> {
    let seen = -1;
    while (seen !== this.recorded.length) {
      seen = this.recorded.length;
      await waitForRPCs();
      // Outputs resolve in later ticks; let applies that register more resources run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private record(request: RegisterRequest): void {
    const secretPaths: string[] = [];
    const inputs = unwrap(request.getObject()?.toJavaScript() ?? {}, '', secretPaths) as Record<string, any>;
    const parent = request.getParent() || undefined;
    const registration: Registration = {
      type: request.getType(),
      name: request.getName(),
      urn: this.urnFor(parent, request.getType(), request.getName()),
      custom: request.getCustom(),
      parent,
      inputs,
      secretPaths,
      provider: request.getProvider() || undefined,
      protect: Boolean(request.getProtect()),
      ignoreChanges: request.getIgnorechangesList(),
      replaceOnChanges: request.getReplaceonchangesList(),
      deleteBeforeReplace: request.getDeletebeforereplacedefined() ? request.getDeletebeforereplace() : undefined,
      retainOnDelete: Boolean(request.getRetainondelete()),
      additionalSecretOutputs: request.getAdditionalsecretoutputsList(),
      dependencies: request.getDependenciesList(),
      importId: request.getImportid() || undefined,
      aliases: request.getAliasesList().map((alias): RecordedAlias => {
        const spec = alias.getSpec();
        if (!spec) return { urn: alias.getUrn() };
        return {
          ...(spec.getName() ? { name: spec.getName() } : {}),
          ...(spec.getType() ? { type: spec.getType() } : {}),
          ...(spec.getParenturn() ? { parentUrn: spec.getParenturn() } : {}),
          ...(spec.getNoparent() ? { noParent: true } : {}),
        };
      }),
      ...(request.getVersion() ? { version: request.getVersion() } : {}),
    };
    this.recorded.push(registration);
    const key = `${registration.type}::${registration.name}`;
    const queue = this.pending.get(key) ?? [];
    queue.push(registration);
    this.pending.set(key, queue);
  }

  /** The URN the mock monitor hands out for the same registration. */
  private urnFor(parent: string | undefined, type: string, name: string): string {
    const qualifiedType = parent ? `${typeOfUrn(parent)}$${type}` : type;
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualifiedType}::${name}`;
  }

  /**
   * A resource's state as its provider would return it: the inputs echoed back, plus what the
   * provider computes. `additionalSecretOutputs` come back secret, as the engine makes them.
   */
  private newResource(args: pulumi.runtime.MockResourceArgs): { id: string | undefined; state: Record<string, any> } {
    const registration = this.pending.get(`${args.type}::${args.name}`)?.shift();
    const plainInputs = registration?.inputs ?? (unwrap(args.inputs, '', []) as Record<string, any>);
    const state: Record<string, any> = { ...args.inputs, ...PROVIDER_OUTPUTS[args.type]?.(plainInputs, args.name) };
    for (const key of registration?.additionalSecretOutputs ?? []) {
      if (key in state && !isWrappedSecret(state[key])) state[key] = { [specialSigKey]: specialSecretSig, value: state[key] };
    }
    return { id: args.custom ? mockId(args.type, args.name) : undefined, state };
  }

  private call(args: pulumi.runtime.MockCallArgs): Record<string, any> {
    const call: RecordedCall = { token: args.token, inputs: unwrap(args.inputs ?? {}, '', []) as Record<string, any> };
    this.invoked.push(call);
    return this.onInvoke(call);
  }
}

/**
 * Runs `program` under the mock runtime, as a preview, and returns what it registered, ordered
 * by URN, with secrets masked. Only masked records leave: invokes' inputs are not returned, as
 * they may hold secrets in the clear. Programs run one at a time: the mock runtime is process-global.
 */
export async function recordProgram(program: () => unknown, options: Omit<MockRecorderOptions, 'preview'>): Promise<{ resources: RecordedResource[] }> {
  const recorder = new MockRecorder({ ...options, preview: true });
  recorder.install();
  try {
    await program();
  } catch (error) {
    // Resources registered before the refusal still have RPCs in flight: let them finish, so
    // the next program in this process starts on a quiet runtime.
    await recorder.settle();
    throw error;
  }
  await recorder.settle();
  // Registration order follows the order outputs resolve, which varies between runs; a plan
  // must read the same every time, so resources are listed by URN.
  const resources = recorder.registrations.map(planned).sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  return { resources };
}
