// Runs one client command from source the way `culex <command> …` runs it from dist, so tests see
// real exit codes and output: node --import tsx test/helpers/cli-entry.ts pub -t a -m b
const loaders = {
  pub: () => import('../../src/cli/pub.js'),
  sub: () => import('../../src/cli/sub.js'),
  rr: () => import('../../src/cli/rr.js'),
} as const;

const [command, ...args] = process.argv.slice(2);
if (command !== 'pub' && command !== 'sub' && command !== 'rr') {
  process.stderr.write(`cli-entry: unknown command ${String(command)}\n`);
  process.exitCode = 2;
} else {
  const { main } = await loaders[command]();
  process.exitCode = await main(args);
}
