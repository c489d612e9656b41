// The dynamic-security data: clients, groups and roles with the links between them, kept in the
// orders Mosquitto's plugin keeps them (plugins/dynamic-security, 2.0): entities and group members
// by name, role and group links by priority (highest first) then name, ACLs by priority with ties
// in insertion order.

export const aclTypes = ['publishClientSend', 'publishClientReceive', 'subscribeLiteral', 'subscribePattern', 'unsubscribeLiteral', 'unsubscribePattern'] as const;
export type AclType = (typeof aclTypes)[number];

/** The four default-access keys of `defaultACLAccess`. */
export const defaultAccessTypes = ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe'] as const;
export type DefaultAccessType = (typeof defaultAccessTypes)[number];
export type DefaultAccess = Record<DefaultAccessType, boolean>;

/** A link's priority when none is given; such links are written without a priority. */
export const NO_PRIORITY = -1;

export interface RoleLink {
  readonly rolename: string;
  readonly priority: number;
}

export interface GroupLink {
  readonly groupname: string;
  readonly priority: number;
}

export interface MemberLink {
  readonly username: string;
  readonly priority: number;
}

export interface StoredPassword {
  readonly hash: Buffer;
  readonly salt: Buffer;
  readonly iterations: number;
}

export interface DynsecClient {
  readonly username: string;
  clientid: string | undefined;
  textname: string | undefined;
  textdescription: string | undefined;
  disabled: boolean;
  password: StoredPassword | undefined;
  roles: RoleLink[];
  groups: GroupLink[];
}

export interface DynsecGroup {
  readonly groupname: string;
  textname: string | undefined;
  textdescription: string | undefined;
  roles: RoleLink[];
  clients: MemberLink[];
}

export interface Acl {
  readonly topic: string;
  readonly priority: number;
  readonly allow: boolean;
}

export interface DynsecRole {
  readonly rolename: string;
  textname: string | undefined;
  textdescription: string | undefined;
  acls: Record<AclType, Acl[]>;
}

export function emptyAcls(): Record<AclType, Acl[]> {
  return { publishClientSend: [], publishClientReceive: [], subscribeLiteral: [], subscribePattern: [], unsubscribeLiteral: [], unsubscribePattern: [] };
}

/** strcmp order (byte order of the UTF-8 text). */
export function byName(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Adds link to a list ordered by priority (highest first), then by name, as uthash's INORDER insert. */
export function insertByPriority<T extends { readonly priority: number }>(list: T[], link: T, name: (item: T) => string): void {
  const at = list.findIndex((item) => {
    const order = link.priority !== item.priority ? item.priority - link.priority : byName(name(link), name(item));
    return order < 0;
  });
  if (at < 0) list.push(link);
  else list.splice(at, 0, link);
}

/** Adds an ACL after those of equal or higher priority. */
export function insertAcl(list: Acl[], acl: Acl): void {
  const at = list.findIndex((item) => item.priority < acl.priority);
  if (at < 0) list.push(acl);
  else list.splice(at, 0, acl);
}

/** Case-insensitive ACL type name (the plugin compares with strcasecmp). */
export function aclTypeNamed(name: string): AclType | undefined {
  const lower = name.toLowerCase();
  return aclTypes.find((type) => type.toLowerCase() === lower);
}

export class DynsecState {
  readonly clients = new Map<string, DynsecClient>();
  readonly groups = new Map<string, DynsecGroup>();
  readonly roles = new Map<string, DynsecRole>();
  anonymousGroup: string | undefined;
  defaultAccess: DefaultAccess = { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: false };

  sortedClients(): DynsecClient[] {
    return [...this.clients.values()].sort((a, b) => byName(a.username, b.username));
  }

  sortedGroups(): DynsecGroup[] {
    return [...this.groups.values()].sort((a, b) => byName(a.groupname, b.groupname));
  }

  sortedRoles(): DynsecRole[] {
    return [...this.roles.values()].sort((a, b) => byName(a.rolename, b.rolename));
  }

  /** Links a client into a group on both sides; false when already a member. */
  addMember(client: DynsecClient, group: DynsecGroup, priority: number): boolean {
    if (group.clients.some((member) => member.username === client.username)) return false;
    // a group's member list is kept by username (clientlist.c); a client's group list by priority
    const at = group.clients.findIndex((member) => byName(client.username, member.username) < 0);
    group.clients.splice(at < 0 ? group.clients.length : at, 0, { username: client.username, priority });
    insertByPriority(client.groups, { groupname: group.groupname, priority }, (g) => g.groupname);
    return true;
  }

  removeMember(client: DynsecClient, group: DynsecGroup): void {
    group.clients = group.clients.filter((member) => member.username !== client.username);
    client.groups = client.groups.filter((link) => link.groupname !== group.groupname);
  }

  deleteClient(client: DynsecClient): void {
    for (const link of client.groups) {
      const group = this.groups.get(link.groupname);
      if (group !== undefined) group.clients = group.clients.filter((member) => member.username !== client.username);
    }
    this.clients.delete(client.username);
  }

  deleteGroup(group: DynsecGroup): void {
    for (const member of group.clients) {
      const client = this.clients.get(member.username);
      if (client !== undefined) client.groups = client.groups.filter((link) => link.groupname !== group.groupname);
    }
    if (this.anonymousGroup === group.groupname) this.anonymousGroup = undefined;
    this.groups.delete(group.groupname);
  }

  deleteRole(role: DynsecRole): void {
    const keep = (links: RoleLink[]): RoleLink[] => links.filter((link) => link.rolename !== role.rolename);
    for (const client of this.clients.values()) client.roles = keep(client.roles);
    for (const group of this.groups.values()) group.roles = keep(group.roles);
    this.roles.delete(role.rolename);
  }

  /** Usernames of the clients that hold the role directly or through a group. */
  holdersOf(rolename: string): { usernames: Set<string>; anonymous: boolean } {
    const usernames = new Set<string>();
    let anonymous = false;
    for (const client of this.clients.values()) if (client.roles.some((link) => link.rolename === rolename)) usernames.add(client.username);
    for (const group of this.groups.values()) {
      if (!group.roles.some((link) => link.rolename === rolename)) continue;
      for (const member of group.clients) usernames.add(member.username);
      if (this.anonymousGroup === group.groupname) anonymous = true;
    }
    return { usernames, anonymous };
  }
}

/** A new role link list entry. */
export function addRoleLink(links: RoleLink[], rolename: string, priority: number): boolean {
  if (links.some((link) => link.rolename === rolename)) return false;
  insertByPriority(links, { rolename, priority }, (link) => link.rolename);
  return true;
}
