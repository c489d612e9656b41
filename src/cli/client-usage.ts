// `--help` and `--version` texts of culex pub / sub / rr, laid out like mosquitto_pub's so the
// flags read the same; only flags Culex implements are listed.

import { MqttClient } from 'mqtt';
import type { ClientCommand, ParseResult } from './client-options.js';
import type { Terminal } from './terminal.js';
import { version } from './version.js';

export function versionLine(command: ClientCommand): string {
  return `culex ${command} version ${version()} running on MQTT.js ${String(MqttClient.VERSION)}.\n`;
}

const connection = `
 -A : bind the outgoing socket to this host/ip address. Use to control which interface
      the client communicates over.
 -c : disable clean session/enable persistent client mode
      When this argument is used, the broker will be instructed not to clean existing sessions
      for the same client id when the client connects, and sessions will never expire when the
      client disconnects. MQTT v5 clients can change their session expiry interval with the -x
      argument.
 -d : enable debug messages.
 -D : Define MQTT v5 properties: -D command identifier value, e.g.
      -D publish message-expiry-interval 60 or -D connect user-property key value.
 -h : mqtt host to connect to. Defaults to localhost.
 -i : id to use for this client. Defaults to an empty id (the broker assigns one);
      MQTT v3.1 clients get mosq- and a random suffix.
 -I : define the client id as id_prefix appended with the process id. Useful for when the
      broker is using the clientid_prefixes option.
 -k : keep alive in seconds for this client. Defaults to 60.
 -L : specify user, password, hostname, port and topic as a URL in the form:
      mqtt(s)://[username[:password]@]host[:port]/topic
 -p : network port to connect to. Defaults to 1883 for plain MQTT and 8883 for MQTT over TLS.
 -P : provide a password
 -u : provide a username
 -V : specify the version of the MQTT protocol to use when connecting.
      Can be mqttv5, mqttv311 or mqttv31. Defaults to mqttv311.
 -x : Set the session-expiry-interval property on the CONNECT packet. Applies to MQTT v5
      clients only. Set to 0-4294967294 to specify the session will expire in that many
      seconds after the client disconnects, or use -1, 4294967295, or ∞ for a session
      that does not expire. Defaults to -1 if -c is also given, or 0 if -c not given.
 --help : display this message.
 --version : display the version.
 --nodelay : disable Nagle's algorithm, to reduce socket sending latency at the possible
             expense of more packets being sent.
 --quiet : don't print error messages.
 --unix : connect to a broker through a unix domain socket instead of a TCP socket,
          e.g. /tmp/mosquitto.sock
 --will-payload : payload for the client Will, which is sent by the broker in case of
                  unexpected disconnection. If not given and will-topic is set, a zero
                  length message will be sent.
 --will-qos : QoS level for the client Will.
 --will-retain : if given, make the client Will retained.
 --will-topic : the topic on which to publish the client Will.
 --cafile : path to a file containing trusted CA certificates to enable encrypted
            communication.
 --capath : path to a directory containing trusted CA certificates to enable encrypted
            communication.
 --cert : client certificate for authentication, if required by server.
 --key : client private key for authentication, if required by server.
 --ciphers : openssl compatible list of TLS ciphers to support.
 --tls-alpn : TLS application layer protocol to offer.
 --tls-use-os-certs : trust the default CA certificates (Node's root store).
 --tls-version : TLS protocol version, can be one of tlsv1.3 tlsv1.2 or tlsv1.1.
 --insecure : do not check that the server certificate hostname matches the remote
              hostname. Do not use this option in a production environment.
`;

const connectionSynopsis = `                     [-A bind_address] [--nodelay]
                     [-i id] [-I id_prefix]
                     [--will-topic [--will-payload payload] [--will-qos qos] [--will-retain]]
                     [{--cafile file | --capath dir} [--cert file] [--key file]
                       [--ciphers ciphers] [--insecure] [--tls-alpn protocol]
                       [--tls-version version] [--tls-use-os-certs]]
                     [-D command identifier value]`;

const pubUsage = `culex pub is a simple mqtt client that will publish a message on a single topic and exit.
VERSION
Usage: culex pub {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL}
                 {-f file | -l | -n | -m message | -s}
                 [-c] [-k keepalive] [-q qos] [-r] [--repeat N] [--repeat-delay time] [-x session-expiry]
                 [-d] [--quiet] [-M max_inflight] [-V protocol-version]
${connectionSynopsis}
       culex pub --help
${connection} -f : send the contents of a file as the message.
 -l : read messages from stdin, sending a separate message for each line.
 -m : message payload to send.
 -M : the maximum inflight messages for QoS 1/2..
 -n : send a null (zero length) message.
 -q : quality of service level to use for all messages. Defaults to 0.
 -r : message should be retained.
 -s : read message from stdin, sending the entire input as a message.
 -t : mqtt topic to publish to.
 --repeat : if publish mode is -f, -m, or -s, then repeat the publish N times.
 --repeat-delay : if using --repeat, wait time seconds between publishes. Defaults to 0.
`;

const outputFlags = ` -F : output format.
 -N : do not add an end of line character when printing the payload.
 -v : print published messages verbosely.
 --pretty : print formatted output rather than minimised output when using the
            JSON output format option.
`;

const subUsage = `culex sub is a simple mqtt client that will subscribe to a set of topics and print all messages it receives.
VERSION
Usage: culex sub {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL [-t topic]}
                 [-c] [-k keepalive] [-q qos] [-x session-expiry-interval]
                 [-C msg_count] [-E] [-R] [--retained-only] [--remove-retained] [-T filter_out] [-U topic ...]
                 [-F format] [-W timeout_secs]
                 [-d] [-N] [--quiet] [-v] [-V protocol-version]
${connectionSynopsis}
       culex sub --help
${connection} -C : disconnect and exit after receiving the 'msg_count' messages.
 -E : Exit once all subscriptions have been acknowledged by the broker.
${outputFlags} -q : quality of service level to use for the subscription. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : mqtt topic to subscribe to. May be repeated multiple times.
 -T : topic string to filter out of results. May be repeated.
 -U : unsubscribe from a topic. May be repeated.
 -W : Specifies a timeout in seconds how long to process incoming MQTT messages.
 --random-filter : only print a percentage of received messages. Set to 100 to have all
                   messages printed, 50.0 to have half of the messages received on average
                   printed, and so on.
 --retain-as-published : MQTT v5: keep the retain flag of forwarded messages as published.
 --retained-only : only handle messages with the retained flag set, and exit when the
                   first non-retained message is received.
 --remove-retained : send a message to the server to clear any received retained messages
                     Use -T to filter out messages you do not want to be cleared.
`;

const rrUsage = `culex rr is an mqtt client that can be used to publish a request message and wait for a response.
             Defaults to MQTT v5, where the Request-Response feature will be used, but v3.1.1 can also be used
             with v3.1.1 brokers.
VERSION
Usage: culex rr {[-h host] [--unix path] [-p port] [-u username] [-P password] -t topic | -L URL} -e response-topic
                {-f file | -n | -m message | -s}
                [-c] [-k keepalive] [-q qos] [-R] [-x session-expiry-interval]
                [-F format] [-W timeout_secs]
                [-d] [-N] [--quiet] [-v] [-V protocol-version]
${connectionSynopsis}
       culex rr --help
${connection} -e : Response topic. The client will subscribe to this topic to wait for a response.
 -f : send the contents of a file as the request.
 -m : request payload to send.
 -n : send a null (zero length) request.
 -s : read the request from stdin, sending the entire input as a message.
${outputFlags} -q : quality of service level to use for communications. Defaults to 0.
 -R : do not print stale messages (those with retain set).
 -t : topic where the request message will be sent.
 -W : Specifies a timeout in seconds how long to wait for a response.
`;

export function usageText(command: ClientCommand): string {
  const text = command === 'pub' ? pubUsage : command === 'sub' ? subUsage : rrUsage.replace('Defaults to mqttv311', 'Defaults to mqttv5');
  return `${text.replace('VERSION\n', `${versionLine(command)}\n`)}\nSee https://mosquitto.org/man/mosquitto_${command}-1.html for the flags in detail.\n`;
}

/** Prints what --help, --version or a bad argument asks for; mosquitto's clients exit 1 for all three. */
export function reportUnrunnable(command: ClientCommand, result: Exclude<ParseResult, { kind: 'run' }>, terminal: Terminal): number {
  switch (result.kind) {
    case 'help':
      terminal.print(usageText(command));
      break;
    case 'version':
      terminal.print(versionLine(command));
      break;
    case 'error':
      terminal.complain(result.message);
      if (result.hint) terminal.complain(`\nUse 'culex ${command} --help' to see usage.\n`);
      if (result.usage) terminal.print(usageText(command));
      break;
  }
  return 1;
}
