// Runs `culex broker …` from source, as cli-entry.ts does for the client commands.
const { main } = await import('../../src/cli/broker.js');
process.exitCode = await main(process.argv.slice(2));
