// Free loopback TCP ports for brokers and servers started by tests: the benchmarks' helper (drawn
// below the ephemeral range, so that no client connection of a parallel test file can take it).
export { findFreePort } from '../../bench/fanout/free-port.js';
