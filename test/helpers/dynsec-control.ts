// The dynamic-security control topic from a test's side: an admin's command and its responses, and
// a login retried while a node has not taken a change yet.
import { connectPeer, type Peer } from './mqttjs.js';

export const DYNSEC_CONTROL = '$CONTROL/dynamic-security/v1';

export interface ControlResponse {
  command: string;
  error?: string;
}

/** Sends one control message as `admin` (subscribed to `${DYNSEC_CONTROL}/response`) and returns the responses. */
export async function dynsecControl(admin: Peer, commands: readonly Record<string, unknown>[]): Promise<ControlResponse[]> {
  await admin.client.publishAsync(DYNSEC_CONTROL, JSON.stringify({ commands }), { qos: 1 });
  const answer = await admin.inbox.next(5000);
  return (JSON.parse(answer.payload) as { responses: ControlResponse[] }).responses;
}

/** Connects with MQTT 5 as the user, retrying while the broker has not taken the change yet (bounded: 5 s). */
export async function loginEventually(url: string, clientId: string, username: string, password: string): Promise<Peer> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await connectPeer(url, { protocolVersion: 5, clientId, username, password });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
