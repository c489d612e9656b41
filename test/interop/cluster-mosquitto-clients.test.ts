// Debian's mosquitto_pub and mosquitto_sub speaking MQTT 3.1.1 and 5.0 against a three-node cluster
// on one redis-server, publishers and subscribers on different nodes: the tests of
// mosquitto-clients.suite.ts, as they run against a single broker.
import { threeNodeCluster } from '../helpers/interop-target.js';
import { mosquittoClientsSuite } from './mosquitto-clients.suite.js';

mosquittoClientsSuite(threeNodeCluster());
