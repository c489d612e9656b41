// MQTT.js's MQTT 5.0-only features against a three-node cluster on one redis-server, each test's
// clients spread over the nodes: the tests of mqttjs-v5.suite.ts, as they run against a single broker.
import { threeNodeCluster } from '../helpers/interop-target.js';
import { mqttjsV5Suite } from './mqttjs-v5.suite.js';

mqttjsV5Suite(threeNodeCluster());
