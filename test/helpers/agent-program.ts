/**
 * The agent's test program: real Pulumi resources run by the real engine, made of dynamic
 * providers (no provider plugin needed): one file per guest and one per app of the box spec,
 * written into `outputDir`. Applying a changed spec really changes, adds and removes files, so
 * a test can see what the engine did. Every program invocation is counted: that is how a test
 * proves a cycle launched no engine.
 */
import * as pulumi from '@pulumi/pulumi';
import type { PulumiFn } from '@pulumi/pulumi/automation/index.js';
import type { ProgramFactory } from '../../runner/agent/program.js';

const localFileProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const fs = await import('node:fs/promises');
    await fs.writeFile(inputs.path, inputs.content);
    return { id: inputs.path, outs: { path: inputs.path, content: inputs.content } };
  },
  async diff(_id, olds, news) {
    const replaces = olds.path === news.path ? [] : ['path'];
    return { changes: olds.path !== news.path || olds.content !== news.content, replaces, deleteBeforeReplace: true };
  },
  async update(_id, _olds, news) {
    const fs = await import('node:fs/promises');
    await fs.writeFile(news.path, news.content);
    return { outs: { path: news.path, content: news.content } };
  },
  async read(id, props) {
    const fs = await import('node:fs/promises');
    try {
      return { id, props: { ...props, path: id, content: await fs.readFile(id, 'utf8') } };
    } catch {
      return {};
    }
  },
  async delete(id) {
    const fs = await import('node:fs/promises');
    await fs.rm(id, { force: true });
  },
};

/** A file on disk as a real engine resource: refresh notices a change made outside. */
export class LocalFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: { path: string; content: string }) {
    super(localFileProvider, name, args, {});
  }
}

/** A resource whose create fails as a provider's would, with `message`. */
export class FailingDisk extends pulumi.dynamic.Resource {
  constructor(name: string, message: string) {
    super(
      {
        async create() {
          throw new Error(message);
        },
      },
      name,
      { message },
    );
  }
}

export interface ProgramCounter {
  invocations: number;
}

/** A program factory writing one file per guest and per app into `outputDir`. */
export function testProgramFactory(outputDir: string, counter: ProgramCounter = { invocations: 0 }): ProgramFactory {
  return (tier, box, env) => {
    const program: PulumiFn = async () => {
      counter.invocations += 1;
      // The host tier needs its Proxmox token, as the real program does: the agent must resolve it.
      if (tier === 'host' && !env.proxmoxApiToken) throw new Error('the host tier needs the Proxmox API token');
      // Storages first and alone in restore mode's first step on a bare host, as in the real host program.
      for (const storage of box.storage) new LocalFile(`storage-${storage.name}`, { path: `${outputDir}/storage-${storage.name}.json`, content: JSON.stringify({ type: storage.type }) });
      if (env.storagesOnly) return { storages: box.storage.length };
      for (const guest of box.guests) {
        new LocalFile(`guest-${guest.name}`, { path: `${outputDir}/guest-${guest.name}.json`, content: JSON.stringify({ vmId: guest.vmId, cores: guest.cores, memoryMiB: guest.memoryMiB }) });
      }
      for (const app of box.apps) {
        new LocalFile(`app-${app.name}`, { path: `${outputDir}/app-${app.name}.json`, content: JSON.stringify({ template: app.template, guest: app.guest }) });
      }
      return { guests: box.guests.length, apps: box.apps.length };
    };
    return program;
  };
}
