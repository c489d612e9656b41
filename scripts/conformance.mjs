#!/usr/bin/env node
// Regenerates the statement table of docs/CONFORMANCE.md from the test titles: every test whose
// title names a normative statement ([MQTT-x.y.z-n]) is listed under that statement, so the
// document cannot drift from the suite. Tests are read from *.test.ts files and from *.suite.ts
// files (test definitions that several *.test.ts files run against different targets).
// Usage: node scripts/conformance.mjs [--check]
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const doc = join(root, 'docs/CONFORMANCE.md');
const begin = '<!-- statements:begin -->';
const end = '<!-- statements:end -->';

const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.ts') || name.endsWith('.suite.ts')) files.push(path);
  }
})(join(root, 'test'));

const byStatement = new Map();
const titlePattern = /\btest\(\s*(?:`([^`]*)`|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")/g;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  for (const match of text.matchAll(titlePattern)) {
    const title = match[1] ?? match[2] ?? match[3];
    for (const id of title.matchAll(/\[(MQTT-[0-9][0-9.-]*[0-9])\]/g)) {
      const list = byStatement.get(id[1]) ?? [];
      list.push(`${relative(root, file)}: ${title.replace(/\|/g, '\\|')}`);
      byStatement.set(id[1], list);
    }
  }
}

const order = (id) => id.replace('MQTT-', '').split(/[.-]/).map((n) => n.padStart(4, '0')).join('.');
const rows = [...byStatement.keys()].sort((a, b) => order(a).localeCompare(order(b)));
const table = ['| statement | tests |', '| --- | --- |', ...rows.map((id) => `| ${id} | ${byStatement.get(id).join('<br>')} |`)].join('\n');
const current = readFileSync(doc, 'utf8');
const start = current.indexOf(begin);
const stop = current.indexOf(end);
if (start < 0 || stop < 0) throw new Error(`${doc} lacks the ${begin} / ${end} markers`);
const next = `${current.slice(0, start + begin.length)}\n${table}\n${current.slice(stop)}`;
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('docs/CONFORMANCE.md is out of date: run node scripts/conformance.mjs');
    process.exit(1);
  }
} else {
  writeFileSync(doc, next);
  console.log(`${rows.length} statements, ${files.length} test files`);
}
