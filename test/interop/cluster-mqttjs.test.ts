// MQTT.js speaking MQTT 3.1.1 and 5.0 against a three-node cluster on one redis-server, each test's
// clients spread over the nodes: the tests of mqttjs.suite.ts, as they run against a single broker.
import { threeNodeCluster } from '../helpers/interop-target.js';
import { mqttjsSuite } from './mqttjs.suite.js';

mqttjsSuite(threeNodeCluster());
