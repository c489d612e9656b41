// Python paho-mqtt speaking MQTT 3.1.1 and 5.0 against a single Culex broker in this process; the
// tests are in paho.suite.ts, which cluster-paho.test.ts runs against one node of a cluster.
import { inProcessBroker } from '../helpers/interop-target.js';
import { pahoSuite } from './paho.suite.js';

pahoSuite(inProcessBroker());
