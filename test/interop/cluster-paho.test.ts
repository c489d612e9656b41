// Python paho-mqtt speaking MQTT 3.1.1 and 5.0 against one node of a three-node cluster on one
// redis-server: the tests of paho.suite.ts, as they run against a single broker.
import { threeNodeCluster } from '../helpers/interop-target.js';
import { pahoSuite } from './paho.suite.js';

pahoSuite(threeNodeCluster());
