// MQTT.js speaking MQTT 3.1.1 and 5.0 against a single Culex broker in this process; the tests are
// in mqttjs.suite.ts, which cluster-mqttjs.test.ts runs against a three-node cluster.
import { inProcessBroker } from '../helpers/interop-target.js';
import { mqttjsSuite } from './mqttjs.suite.js';

mqttjsSuite(inProcessBroker());
