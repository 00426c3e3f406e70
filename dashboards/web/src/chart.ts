import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { severityName, t } from './i18n.ts';

/** Charts with uPlot: canvas, typed arrays, comfortable with 100k points per series. */
export const SEVERITY_COLOURS: Record<string, string> = { critical: '#c62828', major: '#ef6c00', warning: '#f9a825', info: '#1565c0' };

export interface Limit {
  value: number;
  severity: string;
  direction: 'above' | 'below';
}

// times on the axes and in the legend in China Standard Time, 24-hour, whatever the browser's zone
const tzDate = (ts: number) => uPlot.tzDate(new Date(ts * 1000), 'Asia/Shanghai');
const TIME_AXIS: uPlot.Axis = {
  stroke: '#555',
  grid: { stroke: '#eee' },
  values: [
    [86_400 * 365, '{YYYY}', null, null, null, null, null, null, 1],
    [86_400 * 28, '{YYYY}-{MM}', null, null, null, null, null, null, 1],
    [86_400, '{MM}-{DD}', '\n{YYYY}', null, null, null, null, null, 1],
    [3600, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
    [60, '{HH}:{mm}', '\n{YYYY}-{MM}-{DD}', null, '\n{MM}-{DD}', null, null, null, 1],
    [1, ':{ss}', '\n{YYYY}-{MM}-{DD} {HH}:{mm}', null, '\n{MM}-{DD} {HH}:{mm}', null, '\n{HH}:{mm}', null, 1],
  ],
};
const timeSeries = (): uPlot.Series => ({ label: t('time'), value: '{YYYY}-{MM}-{DD} {HH}:{mm}:{ss}' });

const width = (el: HTMLElement) => Math.max(280, el.clientWidth || el.parentElement?.clientWidth || 600);

/** Keep a chart as wide as its box when the window changes. */
function fitWidth(el: HTMLElement, chart: uPlot, height: number) {
  const ro = new ResizeObserver(() => chart.setSize({ width: width(el), height }));
  ro.observe(el);
  return () => (ro.disconnect(), chart.destroy());
}

/**
 * One point over time, its setpoints drawn as dashed lines in their severity's colour. Switches
 * are drawn as steps between 0 and 1. `band` (min and max per window) shades aggregated ranges.
 */
export function pointChart(el: HTMLElement, o: { ts: number[]; values: (number | null)[]; band?: { min: (number | null)[]; max: (number | null)[] }; limits: Limit[]; unit: string; label: string; boolean: boolean }) {
  const height = 220;
  const xs = o.ts.map((ms) => ms / 1000);
  const limits = o.limits;
  const series: uPlot.Series[] = [timeSeries()];
  const data: uPlot.AlignedData = [xs];
  if (o.band) {
    series.push({ label: 'max', stroke: 'rgba(21,101,192,0.25)', width: 1 }, { label: 'min', stroke: 'rgba(21,101,192,0.25)', width: 1 });
    data.push(o.band.max, o.band.min);
  }
  series.push({
    label: o.label,
    stroke: '#1565c0',
    width: 1.5,
    value: (_u, v) => (v === null || v === undefined ? '—' : o.boolean ? String(v === 1) : `${+v.toFixed(3)} ${o.unit}`),
    ...(o.boolean ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
  });
  data.push(o.values);
  const opts: uPlot.Options = {
    width: width(el),
    height,
    series,
    bands: o.band ? [{ series: [1, 2], fill: 'rgba(21,101,192,0.08)' }] : undefined,
    scales: {
      x: { time: true },
      y: {
        range: (_u, min, max) => {
          if (o.boolean) return [-0.1, 1.1];
          const lo = Math.min(min ?? 0, ...limits.map((l) => l.value));
          const hi = Math.max(max ?? 1, ...limits.map((l) => l.value));
          const pad = (hi - lo || 1) * 0.08;
          return [lo - pad, hi + pad];
        },
      },
    },
    tzDate,
    axes: [TIME_AXIS, { stroke: '#555', grid: { stroke: '#eee' }, size: 60, values: (_u, vals) => vals.map((v) => (o.boolean ? (v === 1 ? 'on' : v === 0 ? 'off' : '') : String(+v.toFixed(2)))) }],
    legend: { live: true },
    hooks: {
      draw: [
        (u) => {
          const ctx = u.ctx;
          for (const l of limits) {
            const y = Math.round(u.valToPos(l.value, 'y', true));
            ctx.save();
            ctx.strokeStyle = SEVERITY_COLOURS[l.severity] ?? '#888';
            ctx.fillStyle = ctx.strokeStyle;
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
            ctx.beginPath();
            ctx.moveTo(u.bbox.left, y);
            ctx.lineTo(u.bbox.left + u.bbox.width, y);
            ctx.stroke();
            ctx.font = `${11 * devicePixelRatio}px sans-serif`;
            ctx.textAlign = 'left';
            ctx.textBaseline = 'bottom';
            ctx.fillText(`${severityName(l.severity)} ${l.direction === 'above' ? '≥' : '≤'} ${l.value}`, u.bbox.left + 4 * devicePixelRatio, y - 4 * devicePixelRatio);
            ctx.restore();
          }
        },
      ],
    },
  };
  const chart = new uPlot(opts, data, el);
  el.dataset.points = String(xs.length);
  return fitWidth(el, chart, height);
}

/** Counts per time bucket, one series per category, stacked. */
export function stackedBars(el: HTMLElement, o: { ts: number[]; series: { label: string; colour: string; values: number[] }[] }) {
  const height = 240;
  // uPlot draws each series on its own: stack by drawing running totals, the tallest first
  const totals: number[][] = [];
  let running = o.ts.map(() => 0);
  for (const s of o.series) {
    running = running.map((v, i) => v + (s.values[i] ?? 0));
    totals.push(running);
  }
  const order = o.series.map((_, i) => i).reverse();
  const bars = uPlot.paths.bars!({ size: [0.7, 48] });
  const chart = new uPlot(
    {
      width: width(el),
      height,
      tzDate,
      series: [{ label: t('time'), value: '{YYYY}-{MM}-{DD} {HH}:{mm}' }, ...order.map((i) => ({ label: o.series[i].label, fill: o.series[i].colour, stroke: o.series[i].colour, paths: bars, points: { show: false }, value: (_u: uPlot, v: number | null, _s: number, idx: number | null) => (idx === null || v === null ? '—' : String(o.series[i].values[idx] ?? 0)) }))],
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max ?? 1) * 1.1] } },
      axes: [{ ...TIME_AXIS, grid: { show: false } }, { stroke: '#555', grid: { stroke: '#eee' }, size: 40 }],
    },
    // an empty bucket is no bar at all rather than a hairline
    [o.ts.map((ms) => ms / 1000), ...order.map((i) => totals[i].map((v) => v || null))],
    el,
  );
  return fitWidth(el, chart, height);
}
