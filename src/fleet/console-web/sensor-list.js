// "Sensors in dynamic security" on the console's Add-a-sensor page: the clients holding a
// `sensor:<id>` role (one listClients), with their login state and last status, and per sensor
// Disable / Enable (disableClient, enableClient) and Delete (deleteClient + deleteRole, after a
// second click to confirm).
import { ControlError, newTag, send } from './dynsec-link.js';
import { sensorRoleName, sensorsIn } from './sensor-role.js';

const $ = (id) => document.getElementById(id);
const CONFIRM_MS = 5_000;

let onlineOf = () => undefined;

function note(text) {
  $('dynsec-sensors-note').textContent = text;
}

/** Runs one sensor action; every answer's error is reported, then the list is read again. */
async function act(label, commands) {
  const tag = newTag();
  try {
    const responses = await send({ commands: commands.map((command, i) => ({ ...command, correlationData: `${tag}:${i}` })) });
    const errors = responses.filter((r) => r.error).map((r) => `${r.command}: ${r.error}`);
    await listSensors(errors.length ? `${label} failed: ${errors.join('; ')}.` : `${label}: done.`);
  } catch (error) {
    note(`${label} failed: ${error.message}.`);
  }
}

function actionButton(text, action, onClick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'chip';
  button.textContent = text;
  button.dataset.action = action;
  button.addEventListener('click', onClick);
  return button;
}

function actions(sensor) {
  const cell = document.createElement('td');
  cell.className = 'actions';
  const { username, id } = sensor;
  const toggle = sensor.disabled
    ? actionButton('Enable', 'enable', () => act(`Enable ${id}`, [{ command: 'enableClient', username }]))
    : actionButton('Disable', 'disable', () => act(`Disable ${id}`, [{ command: 'disableClient', username }]));
  // Deleting takes a second click within 5 s: no modal dialog, nothing deleted by a slip.
  const remove = actionButton('Delete', 'delete', () => {
    if (remove.dataset.action === 'delete') {
      remove.dataset.action = 'confirm-delete';
      remove.textContent = 'Confirm delete';
      remove.classList.add('danger');
      setTimeout(() => {
        remove.dataset.action = 'delete';
        remove.textContent = 'Delete';
        remove.classList.remove('danger');
      }, CONFIRM_MS);
      return;
    }
    act(`Delete ${id}`, [{ command: 'deleteClient', username }, { command: 'deleteRole', rolename: sensorRoleName(id) }]);
  });
  cell.append(toggle, remove);
  return cell;
}

/** Reads the list again; `message` (the outcome of an action) is shown under it. */
export async function listSensors(message) {
  try {
    const [answer] = await send({ commands: [{ command: 'listClients', verbose: true, correlationData: newTag() }] });
    if (answer.error) throw new ControlError(`listClients: ${answer.error}`);
    const sensors = sensorsIn(answer.data);
    $('dynsec-sensors').replaceChildren(
      ...sensors.map((sensor) => {
        const row = document.createElement('tr');
        row.dataset.sensor = sensor.id;
        row.dataset.login = sensor.disabled ? 'disabled' : 'enabled';
        const online = onlineOf(sensor.id);
        for (const text of [sensor.id, sensor.username, sensor.disabled ? 'disabled' : 'enabled', online === undefined ? 'never seen' : online ? 'online' : 'offline']) {
          const cell = document.createElement('td');
          cell.textContent = text;
          row.append(cell);
        }
        row.append(actions(sensor));
        return row;
      }),
    );
    const count = `${sensors.length} sensor${sensors.length === 1 ? '' : 's'} with a sensor role, of ${answer.data.totalCount} clients.`;
    note(message ? `${message} ${count}` : count);
  } catch (error) {
    note(`Cannot list the sensors: ${error.message}.`);
  }
}

/** `isOnline(id)`: the sensor's last retained status (true, false, or undefined when never seen). */
export function setupSensorList(isOnline) {
  onlineOf = isOnline;
  $('refresh-sensors').addEventListener('click', () => listSensors());
}
