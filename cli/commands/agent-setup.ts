/**
 * `felhom agent setup --hub <url> --code <code>`: the box's one command at set-up, on the Proxmox
 * host as root after the package is installed (runner/enrollment/host-setup.ts): enroll with the
 * one-time code, mint the agent's own scoped Proxmox token (with a root@pam token made by pveum for
 * that step and removed after it, or one given in a file), copy the controller package for the
 * guests, write /etc/felhom/agent.env and start the agent. Run it again after a failure: every
 * step is idempotent. The root credential never comes from the command line, where `ps` shows it.
 */
import { resolve } from 'node:path';
import type { CommandModule } from '../command.js';
import { ENROLL_CODE_ENV, hubAndCode } from './agent-enroll.js';
import { LOOPBACK, ROOT_TOKEN_ENV, caOption, proxmoxEndpoint, rootTokenOption } from './agent-proxmox-token.js';

const command: CommandModule = {
  description: "set up this Proxmox host in one command: enroll, the agent's own Proxmox token, the controller package, the agent started",
  configure(command) {
    command
      .option('--hub <url>', 'hub URL (default: $FELHOM_HUB_URL)')
      .option('--code <code>', `the one-time code from \`felhom hub enroll\` (default: $${ENROLL_CODE_ENV})`)
      .option('--state <dir>', 'the agent state directory', '/var/lib/felhom-agent')
      .option('--trust-root <fingerprint>', "the operator key fingerprint this box trusts (the image's); must agree with the code's")
      .option('--endpoint <url>', 'the PVE API (default: $FELHOM_PROXMOX_API, else https://127.0.0.1:8006)')
      .option('--ca <file>', "a PEM certificate to trust (default: $FELHOM_PROXMOX_CA; a loopback endpoint's self-signed certificate is accepted)")
      .option('--root-token-file <file>', `root@pam's API token in a file (0600), instead of a temporary one made with pveum (default: $${ROOT_TOKEN_ENV})`)
      .option('--controller-package <deb>', 'the felhom-agent package the agent installs into each guest with its controller (copied to <state>/controller.deb)')
      .option('--env-file <file>', "the agent unit's settings", '/etc/felhom/agent.env')
      .option('--no-start', 'do not enable and start felhom-agent.service')
      .option('--json', 'print the result as JSON');
  },
  async run(context, _args, options) {
    const { hubUrl, code } = hubAndCode(context, options);
    const endpoint = proxmoxEndpoint(context, options);
    const rootToken = await rootTokenOption(context, options);
    const ca = await caOption(context, options);
    const { setUpHost } = await import('../../runner/enrollment/host-setup.js');
    const result = await setUpHost({
      hubUrl,
      code,
      stateDir: resolve(context.cwd, options.state as string),
      ...(options.trustRoot ? { trustRoot: options.trustRoot as string } : {}),
      proxmox: {
        endpoint,
        ...(ca ? { ca } : { insecure: LOOPBACK.test(endpoint) }),
        ...(rootToken ? { rootToken } : {}),
        ...(context.env.FELHOM_PVEUM ? { pveum: context.env.FELHOM_PVEUM } : {}),
      },
      ...(options.controllerPackage ? { controllerPackage: resolve(context.cwd, options.controllerPackage as string) } : {}),
      envFile: resolve(context.cwd, options.envFile as string),
      systemctl: options.start === false ? false : context.env.FELHOM_SYSTEMCTL || '/usr/bin/systemctl',
      onStep: (line) => {
        if (!options.json) context.out.warn(`felhom: setup: ${line}`);
      },
    });
    if (options.json) {
      context.out.json(result);
      return;
    }
    const { enrollment } = result;
    context.out.line(`box ${enrollment.box} ${enrollment.alreadyEnrolled ? 'was already enrolled' : 'enrolled'} at ${enrollment.hub}; ${enrollment.operatorFingerprints.length} operator key(s) pinned in ${enrollment.trustStore}`);
    context.out.line(`Proxmox token ${result.proxmoxToken.tokenId} ${result.proxmoxToken.token}, in ${result.proxmoxToken.tokenFile}`);
    context.out.line(result.controllerPackage ? `controller package ${result.controllerPackage.version} in ${result.controllerPackage.file}` : 'no controller package: put the felhom-agent .deb at <state>/controller.deb for the agent to deploy the guests\' controllers');
    context.out.line(`settings in ${result.envFile}`);
    context.out.line(result.started ? 'felhom-agent.service started: its first host cycle creates the customer LXC, then it deploys the controller (journalctl -u felhom-agent)' : 'next: systemctl enable --now felhom-agent.service');
  },
};
export default command;
