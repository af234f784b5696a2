/**
 * Runs a Pulumi program under Pulumi's mock runtime and records every resource it registers:
 * type, name, parent and inputs, with secrets masked. `felhom plan` shows this; the unit-test
 * harness (test/helpers/mocks.ts) builds on it. Nothing here reaches a provider or a network.
 */
import * as pulumi from '@pulumi/pulumi';

/** Inputs, with secret values replaced by this marker. */
export const SECRET_MARKER = '[secret]';
/** Inputs not known until the resource is created (an output of another resource). */
export const UNKNOWN_MARKER = '[computed]';

// The wire signatures Pulumi uses for secrets and unknowns inside serialized properties.
const SIGNATURE_KEY = '4dabf18193072939515e22adb298388d';
const SECRET_SIGNATURE = '1b47061264138c4ac30d75fd1eb44270';
const RESOURCE_SIGNATURE = '5cf8f73096256a8f31e491e813e4eb8e';
const UNKNOWN_VALUE = '04da6b54-80e4-46f7-96ec-b56ff0331ba9';

export interface RecordedResource {
  /** Pulumi type token, for example `proxmoxve:index/containerLegacy:ContainerLegacy`. */
  readonly type: string;
  readonly name: string;
  /** The parent's name, or undefined for a top-level resource. */
  readonly parent?: string;
  /** The parent's type token. */
  readonly parentType?: string;
  /** True for provider-backed resources, false for components. */
  readonly custom: boolean;
  readonly urn: string;
  /** Inputs as registered, secrets masked with {@link SECRET_MARKER}. */
  readonly inputs: Record<string, unknown>;
  /** Dotted paths of inputs that were secret (`environment.TUNNEL_TOKEN`). */
  readonly secretPaths: readonly string[];
  /** Resource options that matter for safety. */
  readonly options: { readonly protect: boolean; readonly ignoreChanges: readonly string[]; readonly deleteBeforeReplace: boolean };
}

export interface RecordedCall {
  readonly token: string;
  readonly inputs: Record<string, unknown>;
}

export interface MockRuntimeOptions {
  readonly project: string;
  readonly stack: string;
  /** Answers invokes (data sources); throw to fail on an unexpected call. @default - echoes the inputs */
  readonly call?: (call: RecordedCall) => Record<string, unknown>;
  /** Computes a resource's mocked state from its inputs. @default - the inputs, id `<name>-id` */
  readonly newResource?: (args: pulumi.runtime.MockResourceArgs) => { id: string; state: Record<string, unknown> };
}

/** Replaces secret and unknown values in serialized properties, collecting the secret paths. */
function mask(value: unknown, path: string, secretPaths: string[]): unknown {
  if (value === UNKNOWN_VALUE) return UNKNOWN_MARKER;
  if (Array.isArray(value)) return value.map((item, index) => mask(item, `${path}[${index}]`, secretPaths));
  if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record[SIGNATURE_KEY] === SECRET_SIGNATURE) {
      secretPaths.push(path);
      return SECRET_MARKER;
    }
    if (record[SIGNATURE_KEY] === RESOURCE_SIGNATURE) return `[resource ${String(record.urn ?? '')}]`;
    return Object.fromEntries(Object.entries(record).map(([key, item]) => [key, mask(item, path ? `${path}.${key}` : key, secretPaths)]));
  }
  return value;
}

interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean;
  getIgnorechangesList(): string[];
  getDeletebeforereplace(): boolean;
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** `urn:pulumi:stack::project::parent$type::name` → name */
function nameOfUrn(urn: string): string {
  return urn.slice(urn.lastIndexOf('::') + 2);
}
function typeOfUrn(urn: string): string {
  const qualified = urn.split('::')[2] ?? '';
  return qualified.split('$').pop() ?? qualified;
}

/**
 * Runs `program` under the mock runtime and returns what it registered, ordered by URN. Programs run one at a time: the mock runtime is process-global.
 */
export async function recordProgram(program: () => unknown, options: MockRuntimeOptions): Promise<{ resources: RecordedResource[]; calls: RecordedCall[] }> {
  const resources: RecordedResource[] = [];
  const calls: RecordedCall[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        if (options.newResource) return options.newResource(args);
        return { id: `${args.name}-id`, state: { ...args.inputs } };
      },
      call(args) {
        const call = { token: args.token, inputs: args.inputs as Record<string, unknown> };
        calls.push(call);
        return options.call ? options.call(call) : { ...call.inputs };
      },
    },
    options.project,
    options.stack,
    true,
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(request: RegisterRequest, callback: (error: unknown, response?: { getUrn(): string }) => void): Promise<void>;
  };
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) =>
    original(request, (error, response) => {
      if (!error && response) {
        const secretPaths: string[] = [];
        const parentUrn = request.getParent();
        const inputs = mask(request.getObject()?.toJavaScript() ?? {}, '', secretPaths) as Record<string, unknown>;
        const entry: RecordedResource = {
          type: request.getType(),
          name: request.getName(),
          ...(parentUrn ? { parent: nameOfUrn(parentUrn), parentType: typeOfUrn(parentUrn) } : {}),
          custom: request.getCustom(),
          urn: response.getUrn(),
          inputs,
          secretPaths,
          options: { protect: request.getProtect(), ignoreChanges: request.getIgnorechangesList(), deleteBeforeReplace: request.getDeletebeforereplace() },
        };
        resources.push(entry);
      }
      callback(error, response);
    });

  await program();
  await pulumi.runtime.awaitStackRegistrations();
  // Outputs resolve asynchronously; let every apply that registers more resources finish.
  let previous = -1;
  while (previous !== resources.length) {
    previous = resources.length;
    await new Promise((resolve) => setImmediate(resolve));
    await pulumi.runtime.awaitStackRegistrations();
  }
  // Registration order follows the order outputs resolve, which varies between runs; a plan
  // must read the same every time, so resources are listed by URN.
  resources.sort((a, b) => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  return { resources, calls };
}
