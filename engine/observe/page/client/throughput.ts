/** The throughput section: both charts with their legends, and the table of the last 5 minutes and hour. */
import { formatBytes, formatCount } from '../../format.js';
import type { StatusReport, ThroughputCounts } from '../../status.js';
import { drawChart, type Series, type Unit } from './chart.js';
import { byId, h } from './dom.js';

type Charted = 'thumbed' | 'skipped' | 'failed' | 'bytesIn' | 'bytesOut';
type ChartedSeries = Series & { name: Charted };

const COLORS: Record<Charted, string> = { thumbed: '#2f9e5f', skipped: '#a3adba', failed: '#d64545', bytesIn: '#2f6fde', bytesOut: '#9a5bd6' };

function legend(id: string, series: ChartedSeries[], hour: ThroughputCounts, unit: Unit): void {
  byId(id).replaceChildren(
    ...series.map((s) => {
      const swatch = h('i', { class: 'swatch' });
      swatch.style.background = s.color;
      return h('span', { class: 'key' }, swatch, s.label, h('span', { class: 'muted' }, ` ${unit === 'bytes' ? formatBytes(hour[s.name] ?? 0) : formatCount(hour[s.name] ?? 0)}/h`));
    }),
  );
}

export function renderThroughput(r: StatusReport): void {
  const minutes = r.throughput.minutes;
  const times = minutes.map((m) => m.t);
  const pick = (k: Charted): number[] => minutes.map((m) => m[k] || 0);
  const images: ChartedSeries[] = [
    { name: 'thumbed', label: 'thumbed', color: COLORS.thumbed, values: pick('thumbed') },
    { name: 'skipped', label: 'already there', color: COLORS.skipped, values: pick('skipped') },
    { name: 'failed', label: 'failed', color: COLORS.failed, values: pick('failed') },
  ];
  const traffic: ChartedSeries[] = [
    { name: 'bytesIn', label: 'downloaded', color: COLORS.bytesIn, values: pick('bytesIn') },
    { name: 'bytesOut', label: 'written', color: COLORS.bytesOut, values: pick('bytesOut') },
  ];
  legend('legend-images', images, r.throughput.lastHour, 'count');
  legend('legend-bytes', traffic, r.throughput.lastHour, 'bytes');
  drawChart(byId<SVGSVGElement>('chart-images'), times, images, 'stacked', 'count');
  drawChart(byId<SVGSVGElement>('chart-bytes'), times, traffic, 'lines', 'bytes');
  const span = minutes.length >= 120 ? `${Math.round(minutes.length / 60)} hours` : `${minutes.length} minutes`;
  byId('throughput-span').textContent = `last ${span}, per minute, all engines`;
  const fields = ['thumbed', 'skipped', 'failed', 'retries', 'bytesIn', 'bytesOut'] as const;
  const row = (key: 'last5Minutes' | 'lastHour', label: string): HTMLElement =>
    h(
      'tr',
      {},
      h('th', { scope: 'row' }, label),
      ...fields.map((field) => {
        const value = r.throughput[key][field] || 0;
        const isBytes = field === 'bytesIn' || field === 'bytesOut';
        return h('td', { class: `num${value === 0 ? ' zero' : ''}${field === 'failed' && value > 0 ? ' bad' : ''}`, 'data-rate': `${key}.${field}`, 'data-value': value }, isBytes ? formatBytes(value) : formatCount(value));
      }),
    );
  byId('rates-body').replaceChildren(row('last5Minutes', 'last 5 minutes'), row('lastHour', 'last hour'));
}
