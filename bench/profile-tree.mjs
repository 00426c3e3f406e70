// Inclusive time per function within a window: node bench/profile-tree.mjs file fromS untilS [n]
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const [fromS, untilS, n] = [Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5] ?? 50)];
const byId = new Map(p.nodes.map((x) => [x.id, x]));
const parent = new Map();
for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
let t = p.startTime;
const self = new Map();
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i];
  if (t < p.endTime - fromS * 1e6 || t > p.endTime - untilS * 1e6) continue;
  self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + p.timeDeltas[i]);
}
const incl = new Map();
let total = 0;
for (const [id, v] of self) {
  total += v;
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const f = byId.get(cur).callFrame;
    const key = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    incl.set(key, (incl.get(key) ?? 0) + v);
  }
}
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${k}`);
