// The console's "Add a sensor" page: the operator gives an id, a username and a password (or has
// one made and shown once); the page sends the dynamic-security commands of sensor-role.js through
// dynsec-link.js and shows the plugin's answer; sensor-list.js lists the sensors beside the form.
import { isConnected, linkConnected, newTag, send } from './dynsec-link.js';
import { listSensors, setupSensorList } from './sensor-list.js';
import { addSensorSteps, sensorIdProblem } from './sensor-role.js';

const $ = (id) => document.getElementById(id);
const MIN_PASSWORD = 8;

let topics = null;

/** A password of 20 base64url characters (120 random bits), made in the browser. */
function newPassword() {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_');
}

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
  if (username.length > 65535) return 'the username is longer than MQTT allows (65535)';
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
  const steps = addSensorSteps({ topics, id, username, password, tag: newTag() });
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
  if (admin && isConnected()) listSensors();
}

/** Called once at start with the console's config and a way to know whether a sensor is online. */
export function setupSensorAdmin(config, onlineOf) {
  topics = config.topics;
  setupSensorList(onlineOf);
  $('add-sensor-form').addEventListener('submit', addSensor);
  $('new-sensor-id').addEventListener('input', () => {
    const id = $('new-sensor-id').value.trim();
    $('new-sensor-user').placeholder = id || 'same as the sensor id';
    const problem = id ? sensorIdProblem(id) : undefined;
    $('new-sensor-id').setCustomValidity(problem ?? '');
    $('new-sensor-id-problem').textContent = problem ?? '';
  });
  for (const radio of document.querySelectorAll('input[name="password-choice"]')) radio.addEventListener('change', syncPasswordChoice);
  window.addEventListener('hashchange', showPage);
  syncPasswordChoice();
  showPage();
}

/** Called on every connect of the console's MQTT client (a clean session: subscribe again). */
export function sensorAdminConnected(client) {
  linkConnected(client);
  if (location.hash === '#add-sensor') listSensors();
}
