/**
 * PVE's permission model on the simulated host's user.cfg (pve-access-control's
 * PVE::AccessControl::roles and PVE::RPCEnvironment::permissions): the privileges a user or API
 * token holds on an ACL path, and the permission checks PVE's schema attaches to each method
 * (`permissions.check` in apidata.js: `perm`, `and`, `or`, `userid-param`, `userid-group`,
 * `perm-modify`), run before a handler as PVE's API server runs them. Handlers add the checks PVE
 * makes inside a method (`user => 'all'`, "check inside") through {@link Access}.
 *
 *   - root@pam can do anything; so can a token of root@pam without privilege separation (PVE's
 *     root-only code paths compare the user name with `root@pam`, which such a token is not:
 *     {@link Access.isRootUser} is true only for a token-less root@pam, which the simulator has not).
 *   - A user's roles on a path come from the deepest ACL level that names it (the user's own
 *     entries before its groups'), each entry applying below its level only when it propagates;
 *     `NoAccess` there takes everything away.
 *   - A token without privilege separation has its user's privileges; with it, the privileges of
 *     the token's own ACLs that its user also holds.
 *
 * Pools are not simulated. Test and demo tool (docs/pve-simulator.md).
 */
import type { ApiMethodSchema, PveApiSchema } from './schema.js';
import type { SimAcl, SimState } from './state.js';
import { SimApiError } from './errors.js';

/** PVE's built-in roles the simulator has (the others, PVEAdmin, PVEVMUser, … are not simulated). */
export const SPECIAL_ROLES = ['Administrator', 'NoAccess'] as const;

/** Every privilege PVE knows: the keys of a role's privileges in the schema (`GET /access/roles/{roleid}`). */
export function schemaPrivileges(schema: PveApiSchema): string[] {
  const returns = schema.match('GET', '/access/roles/Administrator')?.method?.returns as { properties?: Record<string, unknown> } | undefined;
  return Object.keys(returns?.properties ?? {}).sort();
}

/** Splits `user@realm!tokenid`; undefined for a plain user id. */
export function splitTokenId(authid: string): { userid: string; tokenid: string } | undefined {
  const match = /^([^\s!]+@[A-Za-z][A-Za-z0-9.\-_]+)!([A-Za-z][A-Za-z0-9.\-_]+)$/.exec(authid);
  return match ? { userid: match[1]!, tokenid: match[2]! } : undefined;
}

/** PVE's normalize_path: one slash between segments, none at the end, `/` for empty. */
export function normalizeAclPath(path: string): string | undefined {
  let normal = path.replace(/\/+/g, '/').replace(/\/$/, '');
  if (normal === '') normal = '/';
  if (!normal.startsWith('/')) normal = `/${normal}`;
  return /^[A-Za-z0-9.\-_/]+$/.test(normal) ? normal : undefined;
}

/** PVE's check_path: the ACL paths PVE accepts (pools, mappings and SDN objects included). */
export function validAclPath(path: string): boolean {
  return /^(\/|\/access|\/access\/groups|\/access\/groups\/[A-Za-z0-9.\-_]+|\/access\/realm|\/access\/realm\/[A-Za-z0-9.\-_]+|\/nodes|\/nodes\/[A-Za-z0-9.\-_]+|\/pool|\/pool\/[A-Za-z0-9.\-_]+(\/[A-Za-z0-9.\-_]+){0,2}|\/sdn|\/sdn\/[a-z-]+|\/sdn\/[a-z-]+\/[A-Za-z0-9.\-_]+|\/sdn\/zones\/[A-Za-z0-9.\-_]+\/[A-Za-z0-9.\-_]+|\/sdn\/zones\/[A-Za-z0-9.\-_]+\/[A-Za-z0-9.\-_]+\/[1-9][0-9]{0,3}|\/storage|\/storage\/[A-Za-z0-9.\-_]+|\/vms|\/vms\/[1-9][0-9]{2,}|\/mapping|\/mapping\/[A-Za-z0-9.\-_]+|\/mapping\/[A-Za-z0-9.\-_]+\/[A-Za-z0-9.\-_]+)$/.test(path);
}

function permissionError(what?: string): SimApiError {
  return new SimApiError(403, what === undefined ? 'Permission check failed' : `Permission check failed (${what})`);
}

/** The ACL levels of a path, from `/` down: `/vms/200` → `/`, `/vms`, `/vms/200`. */
function levels(path: string): string[] {
  if (path === '/') return ['/'];
  const parts = path.split('/').filter(Boolean);
  return ['/', ...parts.map((_, index) => `/${parts.slice(0, index + 1).join('/')}`)];
}

/** What one request may do: its authenticated user or token, against the host's user.cfg. */
export class Access {
  readonly state: SimState;
  /** Every privilege PVE knows (the Administrator role). */
  readonly allPrivileges: readonly string[];
  /** `user@realm` or `user@realm!tokenid`. */
  readonly authid: string;
  readonly #cache = new Map<string, Set<string>>();

  constructor(state: SimState, allPrivileges: readonly string[], authid: string) {
    this.state = state;
    this.allPrivileges = allPrivileges;
    this.authid = authid;
  }

  /** Whether this is root@pam itself, which PVE's root-only code paths require (no token is). */
  get isRootUser(): boolean {
    return this.authid === 'root@pam';
  }

  /** The user behind the request (a token's owner). */
  get userid(): string {
    return splitTokenId(this.authid)?.userid ?? this.authid;
  }

  /** The privileges of a role, built-in or made through the API; undefined for an unknown role. */
  rolePrivileges(roleid: string): readonly string[] | undefined {
    if (roleid === 'Administrator') return this.allPrivileges;
    if (roleid === 'NoAccess') return [];
    return this.state.roles[roleid];
  }

  /** The privileges `authid` (this request's by default) holds on `path`. */
  privileges(path: string, authid = this.authid): Set<string> {
    const cached = this.#cache.get(`${authid} ${path}`);
    if (cached) return cached;
    const result = this.#compute(path, authid);
    this.#cache.set(`${authid} ${path}`, result);
    return result;
  }

  #compute(path: string, authid: string): Set<string> {
    if (authid === 'root@pam') return new Set(this.allPrivileges);
    const token = splitTokenId(authid);
    if (token) {
      const record = this.state.tokens.find((candidate) => candidate.userid === token.userid && candidate.tokenid === token.tokenid);
      if (!record) return new Set();
      const user = this.privileges(path, token.userid);
      if (record.privsep === 0) return user;
      return new Set([...this.#fromRoles(this.#roles(authid, 'token', path))].filter((privilege) => user.has(privilege)));
    }
    const user = this.state.users[authid];
    if (!user || user.enable === 0) return new Set();
    return this.#fromRoles(this.#roles(authid, 'user', path));
  }

  #roles(ugid: string, kind: 'user' | 'token', path: string): Map<string, 0 | 1> {
    let roles = new Map<string, 0 | 1>();
    const all = levels(path);
    const groups = kind === 'user' ? this.state.users[ugid]?.groups ?? [] : [];
    all.forEach((level, index) => {
      const final = index === all.length - 1;
      const applies = (entry: SimAcl) => entry.path === level && (final || entry.propagate === 1);
      const own = this.state.acl.filter((entry) => entry.type === kind && entry.ugid === ugid && applies(entry));
      const chosen = own.length > 0 ? own : this.state.acl.filter((entry) => entry.type === 'group' && groups.includes(entry.ugid) && applies(entry));
      if (chosen.length > 0) roles = new Map(chosen.map((entry) => [entry.roleid, entry.propagate]));
    });
    return roles;
  }

  #fromRoles(roles: Map<string, 0 | 1>): Set<string> {
    if (roles.has('NoAccess')) return new Set();
    const privileges = new Set<string>();
    for (const roleid of roles.keys()) for (const privilege of this.rolePrivileges(roleid) ?? []) privileges.add(privilege);
    return privileges;
  }

  /** Whether every one of `privileges` (or, with `any`, one of them) is held on `path`. */
  has(path: string, privileges: readonly string[], any = false): boolean {
    const held = this.privileges(path);
    return any ? privileges.some((privilege) => held.has(privilege)) : privileges.every((privilege) => held.has(privilege));
  }

  /** PVE's check / check_any: throws PVE's 403 `Permission check failed (<path>, <privilege>)`. */
  check(path: string, privileges: readonly string[], any = false): void {
    if (any) {
      if (!this.has(path, privileges, true)) throw permissionError(`${path}, ${privileges.join('|')}`);
      return;
    }
    const missing = privileges.find((privilege) => !this.privileges(path).has(privilege));
    if (missing) throw permissionError(`${path}, ${missing}`);
  }

  /** Whether root@pam's own code paths let this request through (root@pam, or its token without separation: see {@link rootOnly}). */
  get actsAsRoot(): boolean {
    return this.isRootUser || this.#rootToken();
  }

  /** A root@pam-only code path (PVE's `raise_perm_exc` with its own reason). */
  rootOnly(reason: string): void {
    if (!this.actsAsRoot) throw permissionError(reason);
  }

  /**
   * A token of root@pam without privilege separation. PVE treats it as not root for its
   * root-only code paths; the simulator lets it through them (docs/pve-simulator.md says why).
   */
  #rootToken(): boolean {
    const token = splitTokenId(this.authid);
    return token?.userid === 'root@pam' && this.state.tokens.some((candidate) => candidate.userid === 'root@pam' && candidate.tokenid === token.tokenid && candidate.privsep === 0);
  }

  /** PVE's check_perm_modify: may this request change the ACLs of `path`. */
  canModifyAcl(path: string): boolean {
    const wanted = ['Permissions.Modify'];
    if (/^\/storage\/.+$/.test(path)) wanted.push('Datastore.Allocate');
    else if (/^\/vms\/.+$/.test(path)) wanted.push('VM.Allocate');
    else if (/^\/pool\/.+$/.test(path)) wanted.push('Pool.Allocate');
    return this.has(path, wanted, true);
  }

  /** The groups on which this request holds any of `privileges`. */
  groupsWith(privileges: readonly string[]): string[] {
    return Object.keys(this.state.groups).filter((group) => this.has(`/access/groups/${group}`, privileges, true));
  }

  /** PVE's `userid-group` test: any of `privileges` on all groups, or on a group of the user. */
  #useridGroup(userid: string | undefined, privileges: readonly string[], groupsParam: string | undefined, params: Readonly<Record<string, string | string[]>>): boolean {
    const existing = groupsParam !== 'create';
    if (existing && (userid === undefined || !this.state.users[userid])) throw new SimApiError(500, `no such user ('${userid}')`);
    if (this.has('/access/groups', privileges, true)) return true;
    const allowed = this.groupsWith(privileges);
    if (groupsParam) {
      const asked = String(params.groups ?? '').split(/[,;\s]+/).filter(Boolean);
      if (asked.length === 0) throw permissionError(`/access/groups, ${privileges.join('|')}`);
      for (const group of asked) if (!allowed.includes(group)) throw permissionError(`/access/groups/${group}, ${privileges.join('|')}`);
    }
    if (existing) return (this.state.users[userid!]?.groups ?? []).some((group) => allowed.includes(group));
    return true;
  }

  /** Runs a schema `check` list (exec_api2_perm_check); false only when `noerr`. */
  runCheck(check: readonly unknown[], params: Readonly<Record<string, string | string[]>>, noerr = false): boolean {
    const [test, ...rest] = check as [string, ...unknown[]];
    const fail = (what?: string): false => {
      if (noerr) return false;
      throw permissionError(what);
    };
    switch (test) {
      case 'and':
        for (const sub of rest) if (!this.runCheck(sub as unknown[], params, noerr)) return false;
        return true;
      case 'or':
        for (const sub of rest) if (this.runCheck(sub as unknown[], params, true)) return true;
        return fail();
      case 'perm': {
        const [template, privileges, ...options] = rest as [string, string[], ...unknown[]];
        const option = (name: string) => options[options.indexOf(name) + 1];
        const required = options.includes('require_param') ? String(option('require_param')) : undefined;
        if (required && params[required] === undefined) return fail();
        const path = normalizeAclPath(template.replace(/\{([^}]+)\}/g, (_, name: string) => String(params[name] ?? ''))) ?? template;
        const any = options.includes('any') && Boolean(option('any'));
        if (noerr) return this.has(path, privileges, any);
        this.check(path, privileges, any);
        return true;
      }
      case 'userid-param': {
        const userid = typeof params.userid === 'string' ? params.userid : undefined;
        const [subtest] = rest as [string];
        if (subtest === 'self') {
          if (!userid || !this.state.users[userid]) {
            if (noerr) return false;
            throw new SimApiError(500, `no such user ('${userid}')`);
          }
          return this.authid === userid || fail();
        }
        const realm = userid?.split('@')[1] ?? '';
        return noerr ? this.has(`/access/realm/${realm}`, ['Realm.AllocateUser']) : (this.check(`/access/realm/${realm}`, ['Realm.AllocateUser']), true);
      }
      case 'userid-group': {
        const [privileges, ...options] = rest as [string[], ...unknown[]];
        const groupsParam = options.includes('groups_param') ? String(options[options.indexOf('groups_param') + 1]) : undefined;
        const userid = typeof params.userid === 'string' ? params.userid : undefined;
        try {
          return this.#useridGroup(userid, privileges, groupsParam, params) || fail();
        } catch (error) {
          if (noerr) return false;
          throw error;
        }
      }
      case 'perm-modify': {
        const [template] = rest as [string];
        const path = normalizeAclPath(template.replace(/\{([^}]+)\}/g, (_, name: string) => String(params[name] ?? '')));
        if (!path) return fail();
        return this.canModifyAcl(path) || fail(`${path}, Permissions.Modify`);
      }
      default:
        throw new Error(`the simulator does not know PVE's permission test ${JSON.stringify(test)}`);
    }
  }

  /**
   * check_api2_permissions: the method's schema permissions before its handler. `user: all` and
   * `user: world` pass here (the handler checks inside); a method without permissions is root@pam's.
   */
  checkMethod(method: ApiMethodSchema, params: Readonly<Record<string, string | string[]>>): void {
    if (this.authid === 'root@pam') return;
    const permissions = (method as { permissions?: { user?: string; check?: unknown[] } }).permissions;
    if (!permissions) {
      if (this.#rootToken()) return;
      throw permissionError('user != root@pam');
    }
    if (permissions.user === 'all' || permissions.user === 'world') return;
    if (permissions.check) {
      this.runCheck(permissions.check, params);
      return;
    }
    throw permissionError();
  }
}
