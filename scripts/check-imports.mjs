// The layout is the architecture: this checks the doors between the rooms. Every relative import
// of the project's TypeScript is read with the compiler's own pre-processor (type-only imports
// count: they are arrows too), and the script fails on an import cycle or on an arrow that runs
// against the flow (a room importing from one it feeds). Run by `npm test` and so by CI.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const ROOMS = ['domain', 'rules', 'gateway', 'services', 'simulators', 'dashboards', 'bench', 'scripts', 'test'];

/** room (or path prefix) → what it must not import from */
const FORBIDDEN = [
  ['domain/', ['rules/', 'gateway/', 'services/', 'simulators/', 'dashboards/']],
  ['rules/', ['gateway/', 'services/', 'simulators/', 'dashboards/']],
  ['gateway/', ['services/', 'simulators/', 'dashboards/']],
  ['simulators/', ['services/', 'dashboards/']],
  ['services/notify/', ['services/alerts/alert-book.ts']],
  ['services/alerts/', ['services/notify/']],
  ['services/store/', ['services/alerts/', 'services/notify/', 'services/api/']],
  ['services/', ['simulators/', 'dashboards/', 'bench/', 'test/']],
];
/** entry points: `npm start` may start the simulated plants; `npm run simulate` reads a registry file */
const ALLOWED = [
  ['services/main.ts', 'simulators/'],
  ['simulators/cli.ts', 'services/registry/'],
];

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.')) return [];
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

const all = ROOMS.flatMap((r) => { try { return files(join(ROOT, r)); } catch { return []; } });
const graph = new Map();
for (const f of all) {
  const { importedFiles } = ts.preProcessFile(readFileSync(f, 'utf8'), true, true);
  const deps = importedFiles.map((i) => i.fileName).filter((n) => n.startsWith('.')).map((n) => relative(ROOT, resolve(dirname(f), n)));
  graph.set(relative(ROOT, f), deps);
}

const problems = [];
for (const [from, deps] of graph)
  for (const to of deps)
    for (const [room, banned] of FORBIDDEN)
      if (from.startsWith(room) && banned.some((b) => to.startsWith(b)) && !ALLOWED.some(([f, t]) => from === f && to.startsWith(t)))
        problems.push(`${from} → ${to}: ${room} must not import from ${banned.find((b) => to.startsWith(b))}`);

// cycles, by depth-first search over the project's own files
const state = new Map();
const stack = [];
const visit = (n) => {
  state.set(n, 1);
  stack.push(n);
  for (const m of graph.get(n) ?? []) {
    if (!graph.has(m)) continue;
    if (state.get(m) === 1) problems.push(`import cycle: ${[...stack.slice(stack.indexOf(m)), m].join(' → ')}`);
    else if (!state.get(m)) visit(m);
  }
  stack.pop();
  state.set(n, 2);
};
for (const n of graph.keys()) if (!state.get(n)) visit(n);

if (problems.length) {
  console.error(`imports: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(`imports: ${graph.size} files, no cycle, no arrow against the flow`);
