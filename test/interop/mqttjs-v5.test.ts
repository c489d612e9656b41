// MQTT.js's MQTT 5.0-only features against a single Culex broker in this process; the tests are in
// mqttjs-v5.suite.ts, which cluster-mqttjs-v5.test.ts runs against a three-node cluster.
import { inProcessBroker } from '../helpers/interop-target.js';
import { mqttjsV5Suite } from './mqttjs-v5.suite.js';

mqttjsV5Suite(inProcessBroker());
