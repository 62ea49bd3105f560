/**
 * The throughput charts: inline SVG drawn from the report's minutes, a stacked bar chart for images
 * and lines for bytes. Each series is a `path.series` with `data-series`; `data-minutes` on the svg
 * says how many minutes it drew.
 */
import { BYTE_UNITS, formatBytes, formatCount } from '../../format.js';
import { svg } from './dom.js';
import { clock } from './time.js';

export interface Series {
  name: string;
  label: string;
  color: string;
  values: number[];
}

export type Unit = 'count' | 'bytes';

function niceScale(peak: number, unit: Unit): { ticks: number[]; label: (v: number) => string } {
  let scale = 1;
  let name = '';
  if (unit === 'bytes') {
    let i = 0;
    while (peak / scale >= 1024 && i < BYTE_UNITS.length - 1) {
      scale *= 1024;
      i++;
    }
    name = ` ${BYTE_UNITS[i]}`;
  }
  const raw = peak > 0 ? peak / scale : unit === 'count' ? 4 : 1;
  const rough = raw / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = ([1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power);
  if (unit === 'count' || name === ' B') step = Math.max(1, Math.ceil(step));
  const top = step * Math.ceil(raw / step - 1e-9);
  const ticks: number[] = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(v * scale);
  const digits = step < 1 ? 2 : step % 1 !== 0 ? 1 : 0;
  return { ticks, label: (v) => `${(v / scale).toFixed(digits)}${name}` };
}

/** Minutes between x-axis labels so that they do not crowd. */
function labelStep(minutes: number, plotWidth: number): number {
  const most = Math.max(2, Math.floor(plotWidth / 70));
  return [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720].find((s) => minutes / s <= most) ?? 1440;
}

export function drawChart(chart: SVGSVGElement, times: string[], series: Series[], mode: 'stacked' | 'lines', unit: Unit): void {
  const width = Math.max(320, Math.floor(chart.parentElement?.clientWidth ?? 600));
  const height = 210;
  const m = { left: 58, right: 12, top: 12, bottom: 26 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  chart.setAttribute('width', String(width));
  chart.setAttribute('height', String(height));
  chart.setAttribute('viewBox', `0 0 ${width} ${height}`);
  chart.setAttribute('data-minutes', String(times.length));
  const n = times.length;
  const totals = times.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const peak = mode === 'stacked' ? Math.max(0, ...totals) : Math.max(0, ...series.flatMap((s) => s.values));
  const scale = niceScale(peak, unit);
  const top = scale.ticks[scale.ticks.length - 1] || 1;
  const f = (v: number): string => String(Math.round(v * 10) / 10);
  const y = (v: number): number => m.top + ph - (v / top) * ph;
  const bw = n > 0 ? pw / n : pw;
  const x = (i: number): number => m.left + i * bw;
  const nodes: SVGElement[] = [];
  for (const t of scale.ticks) {
    nodes.push(svg('line', { class: t === 0 ? 'axis' : 'grid', x1: m.left, x2: width - m.right, y1: f(y(t)), y2: f(y(t)) }));
    nodes.push(svg('text', { class: 'ylabel', x: m.left - 8, y: f(y(t) + 4), 'text-anchor': 'end' }, scale.label(t)));
  }
  const step = labelStep(n, pw);
  for (let i = 0; i < n; i++) {
    const d = new Date(times[i]!);
    if ((d.getHours() * 60 + d.getMinutes()) % step !== 0) continue;
    const cx = x(i) + bw / 2;
    const anchor = cx < m.left + 18 ? 'start' : cx > width - m.right - 18 ? 'end' : 'middle';
    nodes.push(svg('line', { class: 'tick', x1: f(cx), x2: f(cx), y1: f(m.top + ph), y2: f(m.top + ph + 4) }));
    nodes.push(svg('text', { class: 'xlabel', x: f(cx), y: height - 7, 'text-anchor': anchor }, clock(times[i]!, false)));
  }
  if (mode === 'stacked') {
    const base = times.map(() => 0);
    const gap = bw >= 4 ? 1 : 0;
    for (const s of series) {
      let d = '';
      for (let i = 0; i < n; i++) {
        const v = s.values[i] ?? 0;
        if (v <= 0) continue;
        const y0 = y(base[i]!);
        const y1 = Math.min(y(base[i]! + v), y0 - 1); // at least a pixel, so a single image shows
        d += `M${f(x(i) + gap / 2)} ${f(y0)}V${f(y1)}H${f(x(i) + bw - gap / 2)}V${f(y0)}Z`;
        base[i]! += v;
      }
      nodes.push(svg('path', { class: 'series', 'data-series': s.name, d, fill: s.color, 'shape-rendering': bw < 4 ? 'crispEdges' : 'auto' }));
    }
  } else {
    for (const s of series) {
      const points = s.values.map((v, i) => `${f(x(i) + bw / 2)} ${f(y(v))}`);
      const drawn = s.values.some((v) => v > 0);
      const line = drawn ? `M${points.join('L')}` : '';
      if (drawn) nodes.push(svg('path', { class: 'area', d: `${line}L${f(x(n - 1) + bw / 2)} ${f(y(0))}L${f(x(0) + bw / 2)} ${f(y(0))}Z`, fill: s.color, 'fill-opacity': 0.1 }));
      nodes.push(svg('path', { class: 'series', 'data-series': s.name, d: line, fill: 'none', stroke: s.color, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
    }
  }
  if (peak === 0) nodes.push(svg('text', { class: 'nodata', x: f(m.left + pw / 2), y: f(m.top + ph / 2), 'text-anchor': 'middle' }, n === 0 ? 'no data yet' : 'no work in this time'));
  const show = unit === 'bytes' ? formatBytes : formatCount;
  for (let i = 0; i < n; i++) {
    const text = `${clock(times[i]!, false)}  ${series.map((s) => `${s.label} ${show(s.values[i] ?? 0)}`).join(' · ')}`;
    nodes.push(svg('rect', { class: 'hover', x: f(x(i)), y: m.top, width: f(Math.max(bw, 1)), height: ph }, svg('title', {}, text)));
  }
  chart.replaceChildren(...nodes);
}
