// Makes the built CLI entry point executable (npm link / bin shims need it).
import { chmodSync, existsSync } from 'node:fs';
const cli = new URL('../dist/cli/culex.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
