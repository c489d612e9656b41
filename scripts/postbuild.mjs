// Makes the built CLI entry point executable (npm link / bin shims need it), and copies the admin
// console's web files (plain HTML, CSS and JavaScript, served as they are) beside its server.
import { chmodSync, cpSync, existsSync } from 'node:fs';
const cli = new URL('../dist/cli/culex.js', import.meta.url);
if (existsSync(cli)) chmodSync(cli, 0o755);
const web = new URL('../src/fleet/console-web/', import.meta.url);
if (existsSync(web)) cpSync(web, new URL('../dist/fleet/console-web/', import.meta.url), { recursive: true });
