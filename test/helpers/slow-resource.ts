/**
 * A dynamic-provider resource whose create waits until a release file exists (at most 60 s), so a
 * test can catch a real engine in the middle of an update: its lock held, its pid known.
 */
import * as pulumi from '@pulumi/pulumi';

const slowProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs) {
    const fs = await import('node:fs/promises');
    for (let waited = 0; waited < 60_000; waited += 100) {
      if (await fs.access(inputs.release).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await fs.writeFile(inputs.path, 'slow\n');
    return { id: inputs.path, outs: { path: inputs.path, release: inputs.release } };
  },
  async delete(id) {
    const fs = await import('node:fs/promises');
    await fs.rm(id, { force: true });
  },
};

export class SlowFile extends pulumi.dynamic.Resource {
  constructor(name: string, args: { path: string; release: string }) {
    super(slowProvider, name, args, {});
  }
}
