/**
 * Every `felhom` command, by its words on the command line. Modules load lazily: a command
 * pays only for its own imports, which keeps `felhom verify` from loading Pulumi.
 */
import type { CommandModule } from '../command.js';

export interface CommandEntry {
  /** Words after `felhom`, for example `['keys', 'generate']`. */
  readonly path: readonly string[];
  /** One line for the help listing, shown without loading the module. */
  readonly summary: string;
  readonly load: () => Promise<{ default: CommandModule }>;
}

/** One line for each group of commands (`felhom keys …`) in the help listing. */
export const groups: Readonly<Record<string, string>> = {
  policy: 'check box specs against the policy rules',
  keys: 'operator and agent OpenPGP keys',
  custody: "the box's backup encryption key: custody, escrow, recovery",
  trust: "a box's trust store of operator keys",
  secrets: 'credentials for box specs, encrypted to an agent key',
  catalog: 'the app catalog',
  hub: 'the reference hub',
  'hub operator': "operator accounts at the hub (each with a token of its own)",
  audit: 'the customer-visible audit log',
  agent: 'the box agent',
  controller: 'the in-guest controller (inside the customer LXC)',
  sim: 'simulators for tests and demos (not production components)',
};

export const commands: readonly CommandEntry[] = [
  { path: ['validate'], summary: 'validate a box spec', load: () => import('./validate.js') },
  { path: ['plan'], summary: 'plan a box spec offline under mocked providers', load: () => import('./plan.js') },
  { path: ['policy', 'check'], summary: 'check a box spec against the policy rules', load: () => import('./policy-check.js') },
  { path: ['keys', 'generate'], summary: 'generate an OpenPGP operator or agent key', load: () => import('./keys-generate.js') },
  { path: ['keys', 'list'], summary: 'list the OpenPGP keys in key files and folders', load: () => import('./keys-list.js') },
  { path: ['custody', 'create'], summary: "create the box's PBS encryption key and print its recovery sheet once", load: () => import('./custody-create.js') },
  { path: ['custody', 'recovery-sheet'], summary: 'print the recovery sheet again, for the code the customer enters', load: () => import('./custody-recovery-sheet.js') },
  { path: ['custody', 'unwrap'], summary: 'open an escrow blob with the recovery code or an operator key', load: () => import('./custody-unwrap.js') },
  { path: ['custody', 'recover'], summary: "recover the box's PBS key from the hub's escrow (disaster recovery)", load: () => import('./custody-recover.js') },
  { path: ['custody', 'set'], summary: "change who can open the box's PBS key", load: () => import('./custody-set.js') },
  { path: ['trust', 'init'], summary: 'create a box trust store of operator keys', load: () => import('./trust-init.js') },
  { path: ['trust', 'show'], summary: 'show the keys and threshold a trust store pins', load: () => import('./trust-show.js') },
  { path: ['sign'], summary: 'sign box specs or jobs into envelopes, add a signature, renew', load: () => import('./sign.js') },
  { path: ['verify'], summary: 'verify a signed envelope as a box would', load: () => import('./verify.js') },
  { path: ['secrets', 'encrypt'], summary: 'encrypt a secret to a box agent key', load: () => import('./secrets-encrypt.js') },
  { path: ['catalog', 'list'], summary: 'list the apps in the catalog', load: () => import('./catalog-list.js') },
  { path: ['catalog', 'show'], summary: "show one catalog app's manifest", load: () => import('./catalog-show.js') },
  { path: ['catalog', 'import'], summary: 'draft a catalog manifest from a Docker Compose file', load: () => import('./catalog-import.js') },
  { path: ['hub', 'serve'], summary: 'run the reference hub until stopped', load: () => import('./hub-serve.js') },
  { path: ['hub', 'enroll'], summary: 'enroll a box at the hub: a one-time code (--key) or its API key, shown once', load: () => import('./hub-enroll.js') },
  { path: ['hub', 'reports'], summary: 'list the reports boxes sent to the hub', load: () => import('./hub-reports.js') },
  { path: ['hub', 'boxes'], summary: 'the fleet view: every box, failing boxes first', load: () => import('./hub-boxes.js') },
  { path: ['hub', 'activity'], summary: 'what operators did at the hub, newest first', load: () => import('./hub-activity.js') },
  { path: ['hub', 'operator', 'add'], summary: 'add an operator account and print its token once', load: () => import('./hub-operator-add.js') },
  { path: ['hub', 'operator', 'remove'], summary: 'remove an operator account', load: () => import('./hub-operator-remove.js') },
    { path: ['publish'], summary: 'publish signed envelopes to the hub, in order', load: () => import('./publish.js') },
  { path: ['audit', 'show'], summary: 'print the audit log of a box', load: () => import('./audit-show.js') },
  { path: ['audit', 'verify'], summary: "verify an audit log's hash chain", load: () => import('./audit-verify.js') },
  { path: ['agent', 'enroll'], summary: 'enroll this box at the hub with a one-time code', load: () => import('./agent-enroll.js') },
  { path: ['agent', 'proxmox-token'], summary: "mint the agent's own scoped Proxmox API token (root credential from a file, once)", load: () => import('./agent-proxmox-token.js') },
  { path: ['agent', 'setup'], summary: "set up this Proxmox host in one command: enroll, the agent's own token, the controller package, start the agent", load: () => import('./agent-setup.js') },
  { path: ['agent', 'check'], summary: 'list every missing secret, plugin and permission this box needs', load: () => import('./agent-check.js') },
  { path: ['agent', 'once'], summary: 'run one agent cycle against the hub and exit', load: () => import('./agent-once.js') },
  { path: ['agent', 'run'], summary: 'run the box agent until stopped', load: () => import('./agent-run.js') },
  { path: ['controller', 'once'], summary: 'run one in-guest controller cycle and exit', load: () => import('./controller-once.js') },
  { path: ['controller', 'run'], summary: 'run the in-guest controller until stopped', load: () => import('./controller-run.js') },
  { path: ['controller', 'ui-password'], summary: "set the customer's audit-page password (from standard input)", load: () => import('./controller-ui-password.js') },
  { path: ['completion'], summary: 'print a shell completion script for bash, zsh or fish', load: () => import('./completion.js') },
  { path: ['sim', 'proxmox'], summary: 'run a Proxmox VE API simulator (test and demo tool)', load: () => import('./sim-proxmox.js') },
  { path: ['preview'], summary: 'preview one tier of a box spec on the real engine', load: () => import('./preview.js') },
];
