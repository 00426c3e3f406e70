// Self time per function from a .cpuprofile: node bench/profile-top.mjs file [n]
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
// only the last N seconds (the steady load, not the start-up): argv[4]
const lastS = Number(process.argv[4] ?? 0);
const untilS = Number(process.argv[5] ?? 0);
const times = [];
let t = p.startTime;
for (const d of p.timeDeltas) times.push((t += d));
const from = lastS ? p.endTime - lastS * 1e6 : 0;
const dt = new Map();
const to = p.endTime - untilS * 1e6;
for (let i = 0; i < p.samples.length; i++) if (times[i] >= from && times[i] <= to) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map();
let total = 0;
for (const n of p.nodes) {
  const t = dt.get(n.id) ?? 0;
  total += t;
  const f = n.callFrame;
  const key = `${f.functionName || '(anon)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + t);
}
const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[3] ?? 30));
for (const [k, v] of top) console.log(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(7)} ms  ${k}`);
