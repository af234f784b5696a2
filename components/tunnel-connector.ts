/**
 * The host part of the Cloudflare Tunnel (docs/architecture.md#tunnel-placement): `cloudflared`
 * as its own systemd service on the Proxmox host, so the data path survives the death of the
 * guest or the control plane. The agent runs on the host, so this is a local command that
 * writes a systemd unit and an environment file holding the tunnel token.
 *
 * The token never appears on a command line, in the unit, in logs or in plain state: it
 * reaches the script only through the command's (secret) environment, and is written with
 * umask 077 into a mode-0600 file that systemd reads as root before starting the service.
 */
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as command from '@pulumi/command';
import { assertValidArgs, isAbsolutePath, shown, type Rule } from './validation.js';

export const TUNNEL_CONNECTOR_TYPE = 'felhom:host:TunnelConnector';

export interface TunnelConnectorArgs {
  /** The tunnel token from the edge tier's Tunnel (via the hub record); kept as a Pulumi secret. */
  readonly token: pulumi.Input<string>;
  /** The root the unit and environment files are written under (tests use a temp dir). @default - / */
  readonly rootDir?: string;
  /** Run systemctl daemon-reload / enable --now / restart / disable. @default - true */
  readonly manageService?: boolean;
  /** The systemd unit name, without `.service`. @default - felhom-cloudflared */
  readonly serviceName?: string;
  /** The cloudflared binary on the host. @default - /usr/bin/cloudflared */
  readonly cloudflaredPath?: string;
}

/** Where the connector's files live under a root directory. */
export function connectorPaths(rootDir: string, serviceName: string): { unitFile: string; envFile: string } {
  return {
    unitFile: path.posix.join(rootDir, 'etc/systemd/system', `${serviceName}.service`),
    envFile: path.posix.join(rootDir, 'etc/felhom', `${serviceName}.env`),
  };
}

/** The systemd unit: no secret in it, only a reference to the environment file. */
export function connectorUnit(args: { envFile: string; cloudflaredPath: string }): string {
  return [
    '# Managed by the Felhom agent (felhom:host:TunnelConnector). Local edits are overwritten.',
    '[Unit]',
    'Description=Felhom Cloudflare Tunnel connector (cloudflared)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    // cloudflared reports readiness over sd_notify, as its own `service install` unit does.
    'Type=notify',
    // systemd reads this as root before dropping to the dynamic user; cloudflared takes the
    // token from TUNNEL_TOKEN, so it never shows in `ps`.
    `EnvironmentFile=${args.envFile}`,
    `ExecStart=${args.cloudflaredPath} --no-autoupdate tunnel run`,
    'Restart=always',
    'RestartSec=5',
    'DynamicUser=yes',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    'PrivateTmp=yes',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * The create/update and delete scripts. Constant text: every value, the token included,
 * arrives through environment variables (`FELHOM_*`, `TUNNEL_TOKEN`), so nothing needs quoting
 * and nothing sensitive is part of a command line.
 */
export const CONNECTOR_WRITE_SCRIPT = [
  'set -eu',
  'umask 077',
  'mkdir -p "$(dirname "$FELHOM_ENV_FILE")" "$(dirname "$FELHOM_UNIT_FILE")"',
  // Write to a temp file and rename, so a crash never leaves a half-written token file.
  'printf \'TUNNEL_TOKEN=%s\\n\' "$TUNNEL_TOKEN" > "$FELHOM_ENV_FILE.tmp"',
  'chmod 600 "$FELHOM_ENV_FILE.tmp"',
  'mv -f "$FELHOM_ENV_FILE.tmp" "$FELHOM_ENV_FILE"',
  'printf \'%s\' "$FELHOM_UNIT_CONTENT" > "$FELHOM_UNIT_FILE.tmp"',
  'chmod 644 "$FELHOM_UNIT_FILE.tmp"',
  'mv -f "$FELHOM_UNIT_FILE.tmp" "$FELHOM_UNIT_FILE"',
  'if [ "$FELHOM_MANAGE_SERVICE" = "true" ]; then',
  '  systemctl daemon-reload',
  '  systemctl enable --now "$FELHOM_SERVICE.service"',
  // On update the token or unit may have changed; a running service must pick them up.
  '  systemctl restart "$FELHOM_SERVICE.service"',
  'fi',
].join('\n');

export const CONNECTOR_DELETE_SCRIPT = [
  'set -eu',
  'if [ "$FELHOM_MANAGE_SERVICE" = "true" ]; then',
  '  systemctl disable --now "$FELHOM_SERVICE.service" || true',
  'fi',
  'rm -f "$FELHOM_UNIT_FILE" "$FELHOM_ENV_FILE"',
  'if [ "$FELHOM_MANAGE_SERVICE" = "true" ]; then',
  '  systemctl daemon-reload',
  'fi',
].join('\n');

/** The argument rules of {@link TunnelConnector}. */
export const tunnelConnectorRules: readonly Rule<TunnelConnectorArgs>[] = [
  { field: 'token', check: (a) => (a.token === undefined || a.token === '' ? 'expected the tunnel token (a Pulumi secret), got nothing' : undefined) },
  { field: 'rootDir', check: (a) => (a.rootDir === undefined || isAbsolutePath(a.rootDir) ? undefined : `expected an absolute directory, got ${shown(a.rootDir)}`) },
  {
    field: 'serviceName',
    check: (a) => (a.serviceName === undefined || /^[a-z0-9][a-z0-9_.@-]*$/i.test(a.serviceName) ? undefined : `expected a systemd unit name without ".service", got ${shown(a.serviceName)}`),
  },
  { field: 'cloudflaredPath', check: (a) => (a.cloudflaredPath === undefined || isAbsolutePath(a.cloudflaredPath) ? undefined : `expected an absolute path to cloudflared, got ${shown(a.cloudflaredPath)}`) },
];

/** The host's cloudflared service. Children: `<name>-service` (command `local.Command`). */
export class TunnelConnector extends pulumi.ComponentResource {
  readonly unitFile: pulumi.Output<string>;
  readonly envFile: pulumi.Output<string>;
  readonly serviceName: pulumi.Output<string>;

  constructor(name: string, args: TunnelConnectorArgs, opts?: pulumi.ComponentResourceOptions) {
    assertValidArgs(TUNNEL_CONNECTOR_TYPE, name, tunnelConnectorRules, args);
    super(TUNNEL_CONNECTOR_TYPE, name, {}, opts);

    const serviceName = args.serviceName ?? 'felhom-cloudflared';
    const { unitFile, envFile } = connectorPaths(args.rootDir ?? '/', serviceName);
    const unit = connectorUnit({ envFile, cloudflaredPath: args.cloudflaredPath ?? '/usr/bin/cloudflared' });

    new command.local.Command(
      `${name}-service`,
      {
        create: CONNECTOR_WRITE_SCRIPT,
        update: CONNECTOR_WRITE_SCRIPT,
        delete: CONNECTOR_DELETE_SCRIPT,
        interpreter: ['/bin/sh', '-c'],
        environment: {
          TUNNEL_TOKEN: pulumi.secret(args.token),
          FELHOM_UNIT_FILE: unitFile,
          FELHOM_ENV_FILE: envFile,
          FELHOM_UNIT_CONTENT: unit,
          FELHOM_SERVICE: serviceName,
          FELHOM_MANAGE_SERVICE: String(args.manageService ?? true),
        },
        // Nothing the scripts print is needed later; don't feed it back into the next run.
        addPreviousOutputInEnv: false,
        logging: command.types.enums.local.Logging.Stderr,
      },
      { parent: this },
    );

    this.unitFile = pulumi.output(unitFile);
    this.envFile = pulumi.output(envFile);
    this.serviceName = pulumi.output(serviceName);
    this.registerOutputs({ unitFile: this.unitFile, envFile: this.envFile, serviceName: this.serviceName });
  }
}
