// A fleet sensor's lane in dynamic security: its id rule, its role's ACLs and the
// `$CONTROL/dynamic-security/v1` commands that add it. Plain JavaScript without the DOM, so the
// console page sends exactly these commands and `culex demo` writes its first sensors with them.

/** The id that addresses every sensor at once on the config topic. */
export const ALL_SENSORS = 'all';

/**
 * A sensor id must be usable as one topic level and as an MQTT client id and username: letters,
 * digits, '-', '_' and '.', 1 to 64 characters (so no '/', '+', '#'), and not the reserved "all".
 * @param {string} id
 * @returns {string | undefined} the problem, or undefined when the id is usable
 */
export function sensorIdProblem(id) {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) return `invalid sensor id '${id}' (letters, digits, '.', '_' and '-', at most 64)`;
  if (id === ALL_SENSORS) return `'${ALL_SENSORS}' is reserved for orders to every sensor`;
  return undefined;
}

/** Every fleet sensor's role is called `sensor:<id>`; the console lists the clients holding one. */
export const SENSOR_ROLE_PREFIX = 'sensor:';

/** @param {string} id */
export const sensorRoleName = (id) => `${SENSOR_ROLE_PREFIX}${id}`;

/**
 * The sensor's role: it writes its readings and its retained status (also its will), subscribes
 * to its own orders and the orders to all, and receives nothing else. Everything not listed is
 * denied by the default access the demo sets (and Mosquitto's `init` sets for publishing and
 * subscribing).
 * @param {{ data: string, config: string, status: string }} topics
 * @param {string} id
 */
export function sensorRoleAcls(topics, id) {
  const own = `${topics.config}/${id}`;
  const all = `${topics.config}/${ALL_SENSORS}`;
  return [
    { acltype: 'publishClientSend', topic: `${topics.data}/${id}`, allow: true },
    { acltype: 'publishClientSend', topic: `${topics.status}/${id}`, allow: true },
    { acltype: 'subscribeLiteral', topic: own, allow: true },
    { acltype: 'subscribeLiteral', topic: all, allow: true },
    { acltype: 'publishClientReceive', topic: own, allow: true },
    { acltype: 'publishClientReceive', topic: all, allow: true },
  ].map((acl) => ({ ...acl, priority: 0 }));
}

/**
 * The two steps that add a sensor, each one control message. The role comes first, alone: if it
 * exists already (another sensor of that id), nothing else is sent, so no existing role is ever
 * widened. Then the client with that role in the same command, so that a client that exists
 * already gets nothing; in that case `rollback` deletes the role just made.
 * @param {{ topics: { data: string, config: string, status: string }, id: string, username: string, password: string, tag: string }} sensor
 *   `tag` prefixes the commands' correlationData, to find the answers among other admins'
 */
export function addSensorSteps({ topics, id, username, password, tag }) {
  const rolename = sensorRoleName(id);
  return {
    role: {
      commands: [{ command: 'createRole', rolename, textname: `sensor ${id}`, textdescription: `writes ${topics.data}/${id}, reads ${topics.config}/${id}`, acls: sensorRoleAcls(topics, id), correlationData: `${tag}:role` }],
    },
    client: {
      commands: [{ command: 'createClient', username, password, textname: `sensor ${id}`, roles: [{ rolename }], correlationData: `${tag}:client` }],
    },
    rollback: {
      commands: [{ command: 'deleteRole', rolename, correlationData: `${tag}:rollback` }],
    },
  };
}

/**
 * The sensors in a `listClients` (verbose) answer: clients holding a `sensor:<id>` role.
 * @param {unknown} data the `data` of the listClients response
 * @returns {{ id: string, username: string, disabled: boolean }[]}
 */
export function sensorsIn(data) {
  const clients = data && typeof data === 'object' && Array.isArray(data.clients) ? data.clients : [];
  const sensors = [];
  for (const client of clients) {
    if (!client || typeof client.username !== 'string' || !Array.isArray(client.roles)) continue;
    for (const role of client.roles) {
      const name = role && typeof role.rolename === 'string' ? role.rolename : '';
      if (name.startsWith(SENSOR_ROLE_PREFIX)) sensors.push({ id: name.slice(SENSOR_ROLE_PREFIX.length), username: client.username, disabled: client.disabled === true });
    }
  }
  return sensors.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
