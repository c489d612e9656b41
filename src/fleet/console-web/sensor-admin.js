// The console's "Add a sensor" page: the operator gives an id, a username and a password (or has
// one made and shown once); the page sends the dynamic-security commands of sensor-role.js to
// $CONTROL/dynamic-security/v1 over the console's own MQTT connection, reads the answers on
// .../response by their correlationData, and lists the sensors that dynamic security knows.
import { addSensorSteps, sensorIdProblem, sensorsIn } from './sensor-role.js';

const $ = (id) => document.getElementById(id);
const CONTROL = '$CONTROL/dynamic-security/v1';
const RESPONSE = `${CONTROL}/response`;
const ANSWER_MS = 10_000;
const MIN_PASSWORD = 8;

/** The console's connection as seen from here; replaced on every (re)connect. */
const link = { client: null, subscribed: null, waiting: new Map(), config: null, onlineOf: () => undefined };

/** A password of 20 base64url characters (120 random bits), made in the browser. */
function newPassword() {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

class ControlError extends Error {}

function onResponse(topic, payload) {
  if (topic !== RESPONSE) return;
  let responses;
  try {
    responses = JSON.parse(new TextDecoder().decode(payload)).responses;
  } catch {
    return;
  }
  // Every admin subscribed here sees every answer: ours are the ones with our correlationData.
  const tag = Array.isArray(responses) ? responses[0]?.correlationData : undefined;
  const waiter = link.waiting.get(tag);
  if (!waiter) return;
  link.waiting.delete(tag);
  waiter.resolve(responses);
}

function ensureSubscribed(client) {
  if (link.subscribed) return link.subscribed;
  link.subscribed = new Promise((resolve, reject) => {
    client.subscribe(RESPONSE, { qos: 1 }, (error, granted) => {
      if (error || (granted ?? []).some((g) => g.qos >= 0x80)) {
        link.subscribed = null;
        reject(new ControlError(`this login may not read ${RESPONSE}: it needs a role that allows the dynamic-security API`));
      } else resolve();
    });
  });
  return link.subscribed;
}

/** Sends one control message; resolves with its responses, rejects with a ControlError. */
async function send(message) {
  const client = link.client;
  if (!client?.connected) throw new ControlError('not connected to the broker');
  await ensureSubscribed(client);
  const tag = message.commands[0].correlationData;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      link.waiting.delete(tag);
      reject(new ControlError(`no answer on ${RESPONSE} within ${ANSWER_MS / 1000} s: is dynamic security enabled on this broker?`));
    }, ANSWER_MS);
    link.waiting.set(tag, {
      resolve: (responses) => {
        clearTimeout(timer);
        resolve(responses);
      },
    });
    client.publish(CONTROL, JSON.stringify(message), { qos: 1 }, (error) => {
      if (!error) return;
      clearTimeout(timer);
      link.waiting.delete(tag);
      reject(new ControlError(`the broker refused the command on ${CONTROL} (${error.message}): this login needs the admin role`));
    });
  });
}

const newTag = () => `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

function showStatus(state, text) {
  const status = $('add-sensor-status');
  status.dataset.state = state;
  status.textContent = text;
}

function clearSecret() {
  $('new-sensor-secret').hidden = true;
  $('new-sensor-password').textContent = '';
  $('new-sensor-credentials').textContent = '';
}

/** The form's problem, or undefined: checked before anything is sent. */
function formProblem({ id, username, password }) {
  const idProblem = sensorIdProblem(id);
  if (idProblem) return idProblem;
  if (username.length === 0 || username.length > 65535) return 'the username may not be empty';
  if (password.length < MIN_PASSWORD) return `the password needs at least ${MIN_PASSWORD} characters`;
  return undefined;
}

async function addSensor(event) {
  event.preventDefault();
  clearSecret();
  // Counts the operator's tries, so that a reader (a person, a test) can tell this answer from the last.
  const status = $('add-sensor-status');
  status.dataset.attempt = String(Number(status.dataset.attempt ?? 0) + 1);
  const id = $('new-sensor-id').value.trim();
  const username = $('new-sensor-user').value.trim() || id;
  const generated = $('password-generate').checked;
  const password = generated ? newPassword() : $('new-sensor-password-input').value;
  const problem = formProblem({ id, username, password });
  if (problem) return showStatus('invalid', `Not sent: ${problem}.`);

  const button = $('add-sensor-button');
  button.disabled = true;
  showStatus('working', `Adding ${id}…`);
  const steps = addSensorSteps({ topics: link.config.topics, id, username, password, tag: newTag() });
  try {
    const [role] = await send(steps.role);
    if (role.error) {
      const why = role.error === 'Role already exists' ? ' (a sensor with this id exists)' : '';
      return showStatus('failed', `Not added: createRole ${steps.role.commands[0].rolename}: ${role.error}${why}.`);
    }
    const [client] = await send(steps.client);
    if (client.error) {
      // Take back the role made for it, so that a later try with another username starts clean.
      const [undo] = await send(steps.rollback).catch(() => [{ error: 'no answer' }]);
      const left = undo.error ? ` The role ${steps.rollback.commands[0].rolename} was left behind (deleteRole: ${undo.error}).` : '';
      return showStatus('failed', `Not added: createClient ${username}: ${client.error}.${left}`);
    }
    const { topics } = link.config;
    showStatus('added', `Sensor ${id} added: username ${username}; it may write ${topics.data}/${id} and ${topics.status}/${id} and read ${topics.config}/${id} and ${topics.config}/all.`);
    if (generated) {
      $('new-sensor-password').textContent = password;
      $('new-sensor-credentials').textContent = username === id ? `${id}:${password}` : '';
      $('new-sensor-credentials-line').hidden = username !== id;
      $('new-sensor-secret').hidden = false;
    }
    $('add-sensor-form').reset();
    syncPasswordChoice();
    await listSensors();
  } catch (error) {
    showStatus('failed', `Not added: ${error.message}.`);
  } finally {
    button.disabled = false;
  }
}

async function listSensors() {
  const note = $('dynsec-sensors-note');
  try {
    const [answer] = await send({ commands: [{ command: 'listClients', verbose: true, correlationData: newTag() }] });
    if (answer.error) throw new ControlError(`listClients: ${answer.error}`);
    const sensors = sensorsIn(answer.data);
    const body = $('dynsec-sensors');
    body.replaceChildren(
      ...sensors.map((sensor) => {
        const row = document.createElement('tr');
        row.dataset.sensor = sensor.id;
        const online = link.onlineOf(sensor.id);
        for (const text of [sensor.id, sensor.username, sensor.disabled ? 'disabled' : 'enabled', online === undefined ? 'never seen' : online ? 'online' : 'offline']) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        return row;
      }),
    );
    note.textContent = `${sensors.length} sensor${sensors.length === 1 ? '' : 's'} with a sensor role, of ${answer.data.totalCount} clients.`;
  } catch (error) {
    note.textContent = `Cannot list the sensors: ${error.message}.`;
  }
}

function syncPasswordChoice() {
  const own = $('password-own').checked;
  const input = $('new-sensor-password-input');
  input.disabled = !own;
  input.required = own;
  if (!own) input.value = '';
}

function showPage() {
  const admin = location.hash === '#add-sensor';
  $('fleet-view').hidden = admin;
  $('add-sensor-view').hidden = !admin;
  if (!admin) clearSecret(); // the password is shown once, not kept on screen
  for (const tab of document.querySelectorAll('.tab')) tab.classList.toggle('active', tab.getAttribute('href') === (admin ? '#add-sensor' : '#'));
  if (admin && link.client?.connected) listSensors();
}

/** Called once at start with the console's config and a way to know whether a sensor is online. */
export function setupSensorAdmin(config, onlineOf) {
  link.config = config;
  link.onlineOf = onlineOf;
  $('add-sensor-form').addEventListener('submit', addSensor);
  $('new-sensor-id').addEventListener('input', () => {
    const id = $('new-sensor-id').value.trim();
    $('new-sensor-user').placeholder = id || 'same as the sensor id';
    const problem = id ? sensorIdProblem(id) : undefined;
    $('new-sensor-id').setCustomValidity(problem ?? '');
    $('new-sensor-id-problem').textContent = problem ?? '';
  });
  for (const radio of document.querySelectorAll('input[name="password-choice"]')) radio.addEventListener('change', syncPasswordChoice);
  $('refresh-sensors').addEventListener('click', () => listSensors());
  window.addEventListener('hashchange', showPage);
  syncPasswordChoice();
  showPage();
}

/** Called on every connect of the console's MQTT client (a clean session: subscribe again). */
export function sensorAdminConnected(client) {
  if (link.client !== client) client.on('message', onResponse);
  link.client = client;
  link.subscribed = null;
  if (location.hash === '#add-sensor') listSensors();
}
