/**
 * PVE's access API on the simulated host's user.cfg (pve-access-control's API2::Role, User,
 * Group, ACL and the token methods): roles, users, groups, ACLs and API tokens with privilege
 * separation, with PVE's refusals where known. The schema's permission check has run before a
 * handler here (access.ts); what PVE checks inside a method is checked here. Test and demo tool.
 */
import { randomUUID } from 'node:crypto';
import { normalizeAclPath, SPECIAL_ROLES, splitTokenId, validAclPath, type Access } from './access.js';
import { parameterError, SimApiError } from './errors.js';
import { splitList } from './formats.js';
import type { RequestParameters } from './schema.js';
import type { SimAcl, SimState, SimToken, SimUser } from './state.js';

interface AccessRequest {
  readonly params: RequestParameters;
  readonly access: Access;
}

type AccessHandler = (state: SimState, request: AccessRequest) => unknown;

/** The realms a fresh PVE host has. */
const REALMS = ['pam', 'pve'];

function text(params: RequestParameters, name: string): string | undefined {
  const value = params[name];
  return Array.isArray(value) ? value.join(',') : value;
}

function required(params: RequestParameters, name: string): string {
  const value = text(params, name);
  if (value === undefined) throw parameterError({ [name]: 'property is missing and it is not optional' });
  return value;
}

function isSpecial(roleid: string): boolean {
  return (SPECIAL_ROLES as readonly string[]).includes(roleid);
}

function user(state: SimState, userid: string): SimUser {
  const found = state.users[userid];
  if (!found) throw new SimApiError(500, `no such user ('${userid}')`);
  return found;
}

function tokenOf(state: SimState, userid: string, tokenid: string): SimToken | undefined {
  return state.tokens.find((token) => token.userid === userid && token.tokenid === tokenid);
}

function tokenInfo(token: SimToken): Record<string, unknown> {
  return { privsep: token.privsep, expire: token.expire, ...(token.comment !== undefined ? { comment: token.comment } : {}) };
}

/** The privileges of `privs` (a pve-priv-list), each one PVE knows. */
function privilegeList(access: Access, value: string | undefined): string[] {
  const privileges = [...new Set(splitList(value ?? ''))];
  const unknown = privileges.find((privilege) => !access.allPrivileges.includes(privilege));
  if (unknown) throw parameterError({ privs: `invalid format - invalid privilege '${unknown}'\n` });
  return privileges.sort();
}

function groupList(state: SimState, value: string | undefined): string[] {
  const groups = splitList(value ?? '');
  for (const group of groups) if (!state.groups[group]) throw new SimApiError(500, `no such group '${group}'`);
  return groups;
}

function userView(state: SimState, userid: string, found: SimUser, full: boolean): Record<string, unknown> {
  return {
    userid, enable: found.enable, expire: found.expire,
    ...(found.comment !== undefined ? { comment: found.comment } : {}),
    ...(found.groups.length > 0 ? { groups: found.groups.join(',') } : {}),
    'realm-type': userid.split('@')[1],
    ...(full ? { tokens: state.tokens.filter((token) => token.userid === userid).map((token) => ({ tokenid: token.tokenid, ...tokenInfo(token) })) } : {}),
  };
}

function removeAcl(state: SimState, matches: (entry: SimAcl) => boolean): void {
  state.acl = state.acl.filter((entry) => !matches(entry));
}

/** PUT /access/acl: PVE's update_acl (an ACL entry per role and user, group or token; `delete` removes). */
function updateAcl(state: SimState, { params, access }: AccessRequest): null {
  const given = required(params, 'path');
  const path = normalizeAclPath(given);
  const removing = text(params, 'delete') === '1';
  if (!path || (!removing && !validAclPath(path))) throw parameterError({ path: `invalid ACL path '${given}'` });
  const propagate: 0 | 1 = text(params, 'propagate') === '0' ? 0 : 1;
  const mayModify = access.has(path, ['Permissions.Modify']);
  const held = access.privileges(path);
  const targets: { type: SimAcl['type']; ugid: string }[] = [];
  for (const group of splitList(text(params, 'groups') ?? '')) {
    if (!state.groups[group]) throw new SimApiError(500, `group '${group}' does not exist`);
    targets.push({ type: 'group', ugid: group });
  }
  for (const userid of splitList(text(params, 'users') ?? '')) {
    if (!state.users[userid]) throw new SimApiError(500, `user '${userid}' does not exist`);
    targets.push({ type: 'user', ugid: userid });
  }
  for (const tokenid of splitList(text(params, 'tokens') ?? '')) {
    const token = splitTokenId(tokenid);
    if (!token || !tokenOf(state, token.userid, token.tokenid)) throw new SimApiError(500, `no such token '${token?.tokenid ?? tokenid}' for user '${token?.userid ?? ''}'`);
    targets.push({ type: 'token', ugid: tokenid });
  }
  for (const roleid of splitList(required(params, 'roles'))) {
    const privileges = access.rolePrivileges(roleid);
    if (!privileges) throw new SimApiError(500, `role '${roleid}' does not exist`);
    if (!mayModify) {
      // Without Permissions.Modify one may hand out only privileges one holds there.
      const verb = removing ? 'remove' : 'add';
      if (privileges.some((privilege) => !held.has(privilege))) throw parameterError({ role: `Cannot ${verb} role '${roleid}' - requires 'Permissions.Modify' or superset of privileges.` });
      if (roleid === 'NoAccess') throw parameterError({ role: `Cannot ${verb} role '${roleid}' - requires 'Permissions.Modify'` });
    }
    for (const target of targets) {
      const at = state.acl.findIndex((entry) => entry.path === path && entry.type === target.type && entry.ugid === target.ugid && entry.roleid === roleid);
      if (removing) {
        if (at >= 0) state.acl.splice(at, 1);
      } else if (at >= 0) state.acl[at]!.propagate = propagate;
      else state.acl.push({ path, ...target, roleid, propagate });
    }
  }
  return null;
}

export const accessHandlers: Readonly<Record<string, AccessHandler>> = {
  'GET /access/roles': (state, { access }) => [
    ...SPECIAL_ROLES.map((roleid) => ({ roleid, privs: (access.rolePrivileges(roleid) ?? []).join(','), special: 1 })),
    ...Object.entries(state.roles).map(([roleid, privileges]) => ({ roleid, privs: privileges.join(','), special: 0 })),
  ],
  'POST /access/roles': (state, { params, access }) => {
    const roleid = required(params, 'roleid');
    if (/^PVE/i.test(roleid)) throw parameterError({ roleid: "cannot use role ID starting with the (case-insensitive) 'PVE' namespace" });
    if (isSpecial(roleid) || state.roles[roleid]) throw new SimApiError(500, `create role failed: role '${roleid}' already exists`);
    state.roles[roleid] = privilegeList(access, text(params, 'privs'));
    return null;
  },
  'GET /access/roles/{roleid}': (_state, { params, access }) => {
    const roleid = required(params, 'roleid');
    const privileges = access.rolePrivileges(roleid);
    if (!privileges) throw new SimApiError(500, `role '${roleid}' does not exist`);
    return Object.fromEntries(privileges.map((privilege) => [privilege, 1]));
  },
  'PUT /access/roles/{roleid}': (state, { params, access }) => {
    const roleid = required(params, 'roleid');
    if (isSpecial(roleid)) throw new SimApiError(500, `auto-generated role '${roleid}' cannot be modified`);
    const current = state.roles[roleid];
    if (!current) throw new SimApiError(500, `update role failed: role '${roleid}' does not exist`);
    const privileges = privilegeList(access, text(params, 'privs'));
    state.roles[roleid] = text(params, 'append') === '1' ? [...new Set([...current, ...privileges])].sort() : privileges;
    return null;
  },
  'DELETE /access/roles/{roleid}': (state, { params }) => {
    const roleid = required(params, 'roleid');
    if (isSpecial(roleid)) throw new SimApiError(500, `auto-generated role '${roleid}' cannot be deleted`);
    if (!state.roles[roleid]) throw new SimApiError(500, `delete role failed: role '${roleid}' does not exist`);
    delete state.roles[roleid];
    removeAcl(state, (entry) => entry.roleid === roleid);
    return null;
  },
  'GET /access/groups': (state, { access }) => Object.entries(state.groups)
    .filter(([groupid]) => access.has(`/access/groups/${groupid}`, ['Sys.Audit', 'Group.Allocate'], true))
    .map(([groupid, group]) => ({
      groupid, ...(group.comment !== undefined ? { comment: group.comment } : {}),
      users: Object.entries(state.users).filter(([, found]) => found.groups.includes(groupid)).map(([userid]) => userid).join(','),
    })),
  'POST /access/groups': (state, { params }) => {
    const groupid = required(params, 'groupid');
    if (state.groups[groupid]) throw new SimApiError(500, `create group failed: group '${groupid}' already exists`);
    state.groups[groupid] = { ...(text(params, 'comment') !== undefined ? { comment: text(params, 'comment')! } : {}) };
    return null;
  },
  'GET /access/groups/{groupid}': (state, { params }) => {
    const groupid = required(params, 'groupid');
    const group = state.groups[groupid];
    if (!group) throw new SimApiError(500, `group '${groupid}' does not exist`);
    return { ...(group.comment !== undefined ? { comment: group.comment } : {}), members: Object.entries(state.users).filter(([, found]) => found.groups.includes(groupid)).map(([userid]) => userid) };
  },
  'DELETE /access/groups/{groupid}': (state, { params }) => {
    const groupid = required(params, 'groupid');
    if (!state.groups[groupid]) throw new SimApiError(500, `delete group failed: group '${groupid}' does not exist`);
    delete state.groups[groupid];
    for (const found of Object.values(state.users)) found.groups = found.groups.filter((group) => group !== groupid);
    removeAcl(state, (entry) => entry.type === 'group' && entry.ugid === groupid);
    return null;
  },
  'GET /access/users': (state, { params, access }) => {
    const all = access.has('/access/groups', ['User.Modify', 'Sys.Audit'], true);
    const groups = all ? [] : access.groupsWith(['User.Modify', 'Sys.Audit']);
    const enabled = text(params, 'enabled');
    return Object.entries(state.users)
      .filter(([userid, found]) => all || userid === access.userid || found.groups.some((group) => groups.includes(group)))
      .filter(([, found]) => enabled === undefined || String(found.enable) === enabled)
      .map(([userid, found]) => userView(state, userid, found, text(params, 'full') === '1'));
  },
  'POST /access/users': (state, { params }) => {
    const userid = required(params, 'userid');
    const realm = userid.split('@')[1]!;
    if (!REALMS.includes(realm)) throw new SimApiError(500, `create user failed: domain '${realm}' does not exist`);
    if (state.users[userid]) throw new SimApiError(500, `create user failed: user '${userid}' already exists`);
    // The password of a pve-realm user would go to /etc/pve/priv/shadow.cfg: the simulator keeps none.
    state.users[userid] = {
      enable: text(params, 'enable') === '0' ? 0 : 1,
      expire: Number(text(params, 'expire') ?? 0),
      groups: groupList(state, text(params, 'groups')),
      ...(text(params, 'comment') !== undefined ? { comment: text(params, 'comment')! } : {}),
    };
    return null;
  },
  'GET /access/users/{userid}': (state, { params }) => {
    const userid = required(params, 'userid');
    const found = user(state, userid);
    return {
      enable: found.enable, expire: found.expire, groups: [...found.groups],
      ...(found.comment !== undefined ? { comment: found.comment } : {}),
      tokens: Object.fromEntries(state.tokens.filter((token) => token.userid === userid).map((token) => [token.tokenid, tokenInfo(token)])),
    };
  },
  'PUT /access/users/{userid}': (state, { params }) => {
    const found = user(state, required(params, 'userid'));
    if (text(params, 'groups') !== undefined) {
      const groups = groupList(state, text(params, 'groups'));
      found.groups = text(params, 'append') === '1' ? [...new Set([...found.groups, ...groups])] : groups;
    }
    if (text(params, 'enable') !== undefined) found.enable = text(params, 'enable') === '0' ? 0 : 1;
    if (text(params, 'expire') !== undefined) found.expire = Number(text(params, 'expire'));
    if (text(params, 'comment') !== undefined) found.comment = text(params, 'comment')!;
    return null;
  },
  'DELETE /access/users/{userid}': (state, { params }) => {
    const userid = required(params, 'userid');
    user(state, userid);
    delete state.users[userid];
    state.tokens = state.tokens.filter((token) => token.userid !== userid);
    removeAcl(state, (entry) => (entry.type === 'user' && entry.ugid === userid) || (entry.type === 'token' && splitTokenId(entry.ugid)?.userid === userid));
    return null;
  },
  'GET /access/acl': (state, { access }) => state.acl
    .filter((entry) => access.canModifyAcl(entry.path))
    .map((entry) => ({ path: entry.path, type: entry.type, ugid: entry.ugid, roleid: entry.roleid, propagate: entry.propagate })),
  'PUT /access/acl': updateAcl,
  'GET /access/users/{userid}/token': (state, { params }) => {
    const userid = required(params, 'userid');
    user(state, userid);
    return state.tokens.filter((token) => token.userid === userid).map((token) => ({ tokenid: token.tokenid, ...tokenInfo(token) }));
  },
  'GET /access/users/{userid}/token/{tokenid}': (state, { params }) => {
    const token = tokenOf(state, required(params, 'userid'), required(params, 'tokenid'));
    if (!token) throw new SimApiError(500, `no such token '${required(params, 'tokenid')}' for user '${required(params, 'userid')}'`);
    return tokenInfo(token);
  },
  'POST /access/users/{userid}/token/{tokenid}': (state, { params }) => {
    const userid = required(params, 'userid');
    const tokenid = required(params, 'tokenid');
    user(state, userid);
    if (tokenOf(state, userid, tokenid)) throw parameterError({ tokenid: 'Token already exists.' });
    const token: SimToken = {
      userid, tokenid, value: randomUUID(),
      privsep: (text(params, 'privsep') ?? '1') === '1' ? 1 : 0,
      expire: Number(text(params, 'expire') ?? 0),
      ...(text(params, 'comment') ? { comment: text(params, 'comment')! } : {}),
    };
    state.tokens.push(token);
    return { 'full-tokenid': `${userid}!${tokenid}`, value: token.value, info: tokenInfo(token) };
  },
  'DELETE /access/users/{userid}/token/{tokenid}': (state, { params }) => {
    const userid = required(params, 'userid');
    const tokenid = required(params, 'tokenid');
    const at = state.tokens.findIndex((token) => token.userid === userid && token.tokenid === tokenid);
    if (at < 0) throw new SimApiError(500, `no such token '${tokenid}' for user '${userid}'`);
    state.tokens.splice(at, 1);
    // PVE removes the token's ACL entries with it.
    removeAcl(state, (entry) => entry.type === 'token' && entry.ugid === `${userid}!${tokenid}`);
    return null;
  },
};
