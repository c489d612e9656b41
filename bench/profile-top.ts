// Prints where a V8 CPU profile (node --cpu-prof) spent its time: self time per function, and the
// total time under the functions named on the command line.
//   node --import tsx bench/profile-top.ts FILE.cpuprofile [--top 25] [--under name,name…]
// Used with `bench/fanout.ts --broker-prof DIR`, which profiles the Culex broker during a run.

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && args[args.indexOf(a) - 1] !== '--top' && args[args.indexOf(a) - 1] !== '--under');
if (file === undefined) {
  process.stderr.write('usage: node --import tsx bench/profile-top.ts FILE.cpuprofile [--top 25] [--under name,name]\n');
  process.exit(2);
}
const flag = (name: string): string | undefined => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};
const top = Number(flag('--top') ?? 25);
const under = (flag('--under') ?? '').split(',').filter(Boolean);

const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const label = (node: ProfileNode): string => {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${url.replace(/^.*\/(dist|src|node_modules)\//, '$1/').replace(/^node:/, 'node:')}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
};

const self = new Map<string, number>();
const inside = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i] ?? 0;
  const node = byId.get(profile.samples[i]!)!;
  total += dt;
  self.set(label(node), (self.get(label(node)) ?? 0) + dt);
  // Each named function counts once per sample, however deep the recursion.
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const name = byId.get(id)!.callFrame.functionName;
    if (under.includes(name) && !seen.has(name)) {
      seen.add(name);
      inside.set(name, (inside.get(name) ?? 0) + dt);
    }
  }
}

const busy = total - (self.get('(idle)') ?? 0);
const pct = (us: number, of: number): string => `${((us / of) * 100).toFixed(1).padStart(5)} %`;
process.stdout.write(`${(total / 1e6).toFixed(2)} s profiled, ${(busy / 1e6).toFixed(2)} s not idle; self time, % of not idle:\n`);
for (const [name, us] of [...self].filter(([name]) => name !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, top)) {
  process.stdout.write(`${pct(us, busy)}  ${name}\n`);
}
for (const name of under) process.stdout.write(`under ${name}: ${pct(inside.get(name) ?? 0, busy)}\n`);
