// The placeholder credentials of a real engine preview have the shapes the providers check, are
// visibly placeholders, and stay Pulumi secrets.
import t from 'tap';
import * as pulumi from '@pulumi/pulumi';
import { PREVIEW_CLOUDFLARE_API_TOKEN, PREVIEW_PROXMOX_API_TOKEN, previewEnvironment } from '../../stacks/environment.js';

const value = (output: pulumi.Output<string>) => new Promise<string>((resolve) => output.apply((text) => resolve(text)));

t.test('the preview environment has placeholder tokens of the real shapes, as secrets', async (t) => {
  t.match(PREVIEW_PROXMOX_API_TOKEN, /^[^@!=]+@[a-z]+![^=]+=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'USER@REALM!TOKENID=UUID');
  t.match(PREVIEW_PROXMOX_API_TOKEN, /placeholder=0{8}-/, 'visibly a placeholder');
  t.equal(PREVIEW_CLOUDFLARE_API_TOKEN.length, 40, 'a 40-character Cloudflare token');
  t.match(PREVIEW_CLOUDFLARE_API_TOKEN, /placeholder-not-a-token/);
  const env = previewEnvironment({ dockerHost: 'unix:///run/x.sock' });
  t.equal(env.dockerHost, 'unix:///run/x.sock');
  t.equal(previewEnvironment().dockerHost, undefined, 'the default daemon unless told');
  const token = env.proxmoxApiToken!();
  t.ok(await token.isSecret, 'the Proxmox token is a secret');
  t.equal(await value(token), PREVIEW_PROXMOX_API_TOKEN);
  t.equal(await value(env.cloudflareApiToken!()), PREVIEW_CLOUDFLARE_API_TOKEN);
  t.equal(await value(env.secret({ ref: 'pbs-token' })), '<ref:pbs-token>');
});
