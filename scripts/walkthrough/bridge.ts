// Entry point run inside the sandbox's network namespace: node --import tsx bridge.ts PORT SOCKET
import { startBridge } from './apt-proxy.js';

const [port, socketPath] = process.argv.slice(2);
if (!port || !socketPath) {
  console.error('usage: bridge.ts PORT SOCKET');
  process.exit(2);
}
await startBridge(Number(port), socketPath);
