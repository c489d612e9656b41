// The console's line to the dynamic-security API: control messages published on
// $CONTROL/dynamic-security/v1 over the console's own MQTT connection, each answered on
// .../response and recognised by the correlationData of its first command (every admin subscribed
// there sees every answer).

export const CONTROL = '$CONTROL/dynamic-security/v1';
export const RESPONSE = `${CONTROL}/response`;
const ANSWER_MS = 10_000;

/** The console's connection as seen from here; replaced on every (re)connect. */
const link = { client: null, subscribed: null, waiting: new Map() };

/** A refusal or a silence of the API, worded for the operator. */
export class ControlError extends Error {}

/** A correlationData prefix unique to this console and moment. */
export const newTag = () => `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export const isConnected = () => Boolean(link.client?.connected);

function onResponse(topic, payload) {
  if (topic !== RESPONSE) return;
  let responses;
  try {
    responses = JSON.parse(new TextDecoder().decode(payload)).responses;
  } catch {
    return;
  }
  const tag = Array.isArray(responses) ? responses[0]?.correlationData : undefined;
  const waiter = link.waiting.get(tag);
  if (!waiter) return;
  link.waiting.delete(tag);
  waiter(responses);
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
export async function send(message) {
  const client = link.client;
  if (!client?.connected) throw new ControlError('not connected to the broker');
  await ensureSubscribed(client);
  const tag = message.commands[0].correlationData;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      link.waiting.delete(tag);
      reject(new ControlError(`no answer on ${RESPONSE} within ${ANSWER_MS / 1000} s: is dynamic security enabled on this broker?`));
    }, ANSWER_MS);
    link.waiting.set(tag, (responses) => {
      clearTimeout(timer);
      resolve(responses);
    });
    client.publish(CONTROL, JSON.stringify(message), { qos: 1 }, (error) => {
      if (!error) return;
      clearTimeout(timer);
      link.waiting.delete(tag);
      reject(new ControlError(`the broker refused the command on ${CONTROL} (${error.message}): this login needs the admin role`));
    });
  });
}

/** To be called on every connect of the console's MQTT client (a clean session: subscribe again). */
export function linkConnected(client) {
  if (link.client !== client) client.on('message', onResponse);
  link.client = client;
  link.subscribed = null;
}
