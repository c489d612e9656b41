// Culex with outbound topic aliases on (`topicAliasOut`, off by default), for the topic-alias
// measurement, built with the public createBroker API; `--topic-alias-out off` starts the same entry
// without them, the baseline the measurement compares against.
//   node --import tsx bench/culex-aliases.ts [--port 1883] [--host 127.0.0.1] [--topic-alias-out on|off]
// It loads dist/ (run `npm run build` first), as the `culex` target does.

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const port = Number(value('--port') ?? 1883);
const host = value('--host') ?? '127.0.0.1';

// dist/, not src/: the broker measured is the built one, like the culex target's.
const { createBroker } = (await import(new URL('../dist/index.js', import.meta.url).href)) as typeof import('../src/index.js');
const topicAliasOut = value('--topic-alias-out') !== 'off';
const culex = createBroker({ topicAliasOut });
await culex.listen({ port, host });
process.stdout.write(`culex (topicAliasOut ${topicAliasOut ? 'on' : 'off'}) listening on ${host}:${port}\n`);

const stop = (): void => {
  culex.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
