/**
 * The status page the daemon serves at `/`: one self-contained HTML document (inline CSS, inline
 * script, no external URL, no web fonts, no library). The script fetches `api/status` (relative, so
 * the page also works behind a path prefix) on load and again every `refreshSeconds` of the last
 * report, and re-renders in place; a failed fetch shows a banner and keeps the last data. Charts are
 * inline SVG drawn here. Every text that comes from the report (URLs from scraped feeds, error
 * messages, paths) is set with `textContent`/`setAttribute`, never parsed as HTML; links are made only
 * for http(s) URLs. A Content-Security-Policy meta tag allows only this script (by hash), this style
 * sheet (by hash), same-origin fetches and images.
 *
 * Hooks for tests (stable; "integer" means the element's text is the plain integer, e.g. `1234`):
 * - `#updated[data-updated]`        the shown report's `at` (empty until the first report).
 * - `#error`                        the fetch-error banner; has the `hidden` attribute while all is well.
 * - `#state[data-state]`            `running` | `not-running`; `#downloads-paused` is hidden unless paused.
 * - `#spool`, `#tree`               the paths (text).
 * - `[data-count="<country>.<state>"]`  integer: jobs of that country in that state.
 * - `[data-total="<state>"]`        integer: all countries together (the totals row).
 * - `[data-batches]`                integer: batch files waiting to be read.
 * - `[data-oldest-age]`             seconds (attribute) of the oldest waiting job; absent when none waits.
 * - `[data-rate="last5Minutes.<field>"]`, `[data-rate="lastHour.<field>"]`  the throughput figures,
 *                                   field one of thumbed skipped failed retries bytesIn bytesOut; each
 *                                   has `data-value` (the raw number); counts show the integer as text,
 *                                   bytes a human size.
 * - `svg#chart-images`, `svg#chart-bytes`  the charts; each drawn series is a `path.series` with
 *                                   `data-series` (thumbed skipped failed / bytesIn bytesOut) and a
 *                                   non-empty `d` when the series has any non-zero minute;
 *                                   `[data-minutes]` on the svg is how many minutes it drew.
 * - `tr[data-failure-code="<code>"]`  a failure reason; `[data-failure-count]` integer; each example
 *                                   is `.example` holding `.url` (an `a` for http/https URLs, else a
 *                                   `span`) and `.error`.
 * - `tr[data-paused="<source>"]`    a paused host or datasource.
 * - `tr[data-target="<name>"]`      a sweep target; `data-lag` attribute (seconds, empty when never
 *                                   level); `[data-backlog]` integer; `.error` its last error.
 * - `[data-disk="<path>"]`           a file system; `data-free`/`data-total` attributes in bytes.
 * - `tr[data-engine="<host>~<pid>"]`  an engine; `data-alive` `true` | `false`.
 * - `#latest img`                   the latest thumbnails (smallest size), `title` the source URL,
 *                                   `data-hash` the image hash.
 * - `[data-glance="<name>"]`        the summary cards (waiting, oldest, thumbed-hour, failed-hour,
 *                                   lag, paused); for reading, not for checking numbers.
 */
import { createHash } from 'node:crypto';
import type { StatusReport } from './status.js';

/**
 * The page's script. It runs in the browser: this function is typed and compiled with the rest and
 * inlined as its source text, so it must use nothing from outside its own body.
 */
function statusPageClient(): void {
  type Report = StatusReport;
  type Child = Node | string | number | null | undefined | false;
  interface Series {
    name: string;
    label: string;
    color: string;
    values: number[];
  }

  const STATES = ['incoming', 'downloaded', 'thumbed', 'failed'] as const;
  /** Until a report says otherwise. */
  const DEFAULT_REFRESH_MS = 10_000;
  const FETCH_TIMEOUT_MS = 15_000;
  const COLORS = { thumbed: '#2f9e5f', skipped: '#a3adba', failed: '#d64545', bytesIn: '#2f6fde', bytesOut: '#9a5bd6' };

  const byId = <T extends Element = HTMLElement>(id: string): T => {
    const node = document.getElementById(id);
    if (!node) throw new Error(`status page: #${id} is missing`);
    return node as unknown as T;
  };
  const chartImages = byId<SVGSVGElement>('chart-images');
  const chartBytes = byId<SVGSVGElement>('chart-bytes');
  // The SVG namespace, taken from the page's own <svg> so no URL appears in this document.
  const SVG_NS = chartImages.namespaceURI ?? '';

  // ---- building DOM (text only ever as text nodes) ----
  function append(node: Node, children: Child[]): void {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
    }
  }
  function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) if (value !== undefined) node.setAttribute(name, String(value));
    append(node, children);
    return node;
  }
  function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
    const node = document.createElementNS(SVG_NS, tag) as SVGElement;
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    append(node, children);
    return node;
  }
  /** A link for http(s) URLs, plain text for anything else (javascript:, data:, garbage). */
  function urlNode(url: string): HTMLElement {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed && (parsed.protocol === 'http:' || parsed.protocol === 'https:')) {
      return h('a', { class: 'url', href: parsed.href, title: url, rel: 'noopener noreferrer nofollow', target: '_blank' }, url);
    }
    return h('span', { class: 'url', title: url }, url);
  }
  function fillRows(tbody: HTMLElement, rows: HTMLElement[], columns: number, empty: string): void {
    tbody.replaceChildren(...(rows.length > 0 ? rows : [h('tr', { class: 'empty' }, h('td', { colspan: columns }, empty))]));
  }
  function num(value: number, hook: Record<string, string>, extraClass = ''): HTMLElement {
    const cls = ['num', value === 0 ? 'zero' : '', extraClass].filter(Boolean).join(' ');
    return h('td', { class: cls, ...hook }, integer(value));
  }

  // ---- formatting ----
  const integer = (n: number): string => String(Math.round(Number(n) || 0));
  const two = (n: number): string => String(n).padStart(2, '0');
  function bytes(n: number): string {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
    let value = Number(n) || 0;
    let unit = 0;
    while (Math.abs(value) >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
  }
  function duration(seconds: number): string {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
    if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
    return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
  }
  function clock(iso: string, withSeconds = true): string {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return `${two(d.getHours())}:${two(d.getMinutes())}${withSeconds ? `:${two(d.getSeconds())}` : ''}`;
  }
  /** A time of the report's day as a clock, any other as date and clock. */
  function stamp(iso: string | null | undefined, nowIso: string): string {
    if (!iso) return 'never';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    if (d.toDateString() === new Date(nowIso).toDateString()) return clock(iso);
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clock(iso, false)}`;
  }
  /** Seconds from `iso` to the report's `at` (the daemon's clock, not the viewer's). */
  const secondsSince = (iso: string, nowIso: string): number => (Date.parse(nowIso) - Date.parse(iso)) / 1000;
  function ago(iso: string | null | undefined, nowIso: string): string {
    if (!iso) return 'never';
    const s = secondsSince(iso, nowIso);
    if (Number.isNaN(s)) return iso;
    return s >= 0 ? `${duration(s)} ago` : `in ${duration(-s)}`;
  }
  const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

  // ---- sections ----
  function renderHeader(r: Report): void {
    const alive = r.engines.filter((e) => e.alive);
    const state = byId('state');
    state.dataset.state = alive.length > 0 ? 'running' : 'not-running';
    state.className = `badge ${alive.length > 0 ? 'ok' : 'bad'}`;
    state.textContent = alive.length > 0 ? `running · ${plural(alive.length, 'engine')}` : 'NOT RUNNING';
    const paused = r.downloadsPaused ?? [];
    byId('downloads-paused').hidden = paused.length === 0;
    const reasons = byId('downloads-paused-reasons');
    reasons.hidden = paused.length === 0;
    reasons.replaceChildren(h('strong', {}, 'Downloads paused. '), ...paused.map((p, i) => h('span', {}, i > 0 ? '; ' : '', p)));
    byId('spool').textContent = r.spool;
    byId('tree').textContent = r.tree;
    const updated = byId('updated');
    updated.dataset.updated = r.at;
    updated.title = r.at;
    updated.textContent = `updated ${clock(r.at)}`;
    document.title = `${alive.length > 0 ? '' : 'NOT RUNNING · '}ImageSys status`;
  }

  function card(name: string, label: string, value: string, sub: Child, tone = ''): HTMLElement {
    return h('div', { class: `glance ${tone}`, 'data-glance': name }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value), h('div', { class: 'sub' }, sub));
  }
  function renderGlance(r: Report): void {
    const waiting = r.totals.incoming + r.totals.downloaded;
    const hour = r.throughput.lastHour;
    const five = r.throughput.last5Minutes;
    const targets = r.targets ?? [];
    const worst = [...targets].sort((a, b) => (b.lagSeconds ?? Infinity) - (a.lagSeconds ?? Infinity))[0];
    const failing = targets.filter((t) => t.lastError).length;
    const hosts = r.paused.filter((p) => p.source.startsWith('host:')).length;
    byId('glance').replaceChildren(
      card('waiting', 'Jobs waiting', integer(waiting), `${r.totals.incoming} to download, ${r.totals.downloaded} to thumbnail`),
      card('oldest', 'Oldest waiting job', r.oldest ? duration(r.oldest.ageSeconds) : '–', r.oldest ? `${r.oldest.country} · ${r.oldest.state}` : 'nothing waits', r.oldest && r.oldest.ageSeconds > 3600 ? 'warn' : ''),
      card('thumbed-hour', 'Thumbed, last hour', integer(hour.thumbed), `${five.thumbed} in the last 5 min · ${hour.skipped} already there`),
      card('failed-hour', 'Failed, last hour', integer(hour.failed), `${hour.retries} retries · ${r.totals.failed} failed jobs kept`, hour.failed > 0 ? 'bad' : ''),
      card('lag', 'Largest target lag', worst ? (worst.seeding ? 'seeding' : worst.lagSeconds === null ? 'never level' : duration(worst.lagSeconds)) : '–', worst ? `${worst.target}${failing > 0 ? ` · ${failing} failing` : ''}` : 'no targets', failing > 0 ? 'bad' : ''),
      card('paused', 'Paused sources', integer(r.paused.length), r.paused.length > 0 ? `${plural(hosts, 'host')} · ${plural(r.paused.length - hosts, 'datasource')}` : 'none', r.paused.length > 0 ? 'warn' : ''),
    );
  }

  function renderQueue(r: Report): void {
    const countries = Object.keys(r.counts).sort();
    fillRows(
      byId('queue-body'),
      countries.map((c) => {
        const row = r.counts[c]!;
        return h('tr', { 'data-country': c }, h('th', { scope: 'row' }, c), ...STATES.map((s) => num(row[s], { 'data-count': `${c}.${s}` }, s === 'failed' && row[s] > 0 ? 'bad' : '')));
      }),
      5,
      'no countries configured',
    );
    byId('queue-foot').replaceChildren(h('tr', {}, h('th', { scope: 'row' }, 'total'), ...STATES.map((s) => num(r.totals[s], { 'data-total': s }))));
    const batches = h('span', { 'data-batches': '' }, integer(r.batches));
    const notes: HTMLElement[] = [h('li', {}, batches, ` batch ${r.batches === 1 ? 'file' : 'files'} waiting to be read`)];
    if (r.oldest) {
      const waiting = r.totals.incoming + r.totals.downloaded;
      const sampled = r.oldestOf !== undefined && r.oldestOf < waiting ? ` (the oldest of ${integer(r.oldestOf)} looked at)` : '';
      notes.push(h('li', { 'data-oldest-age': r.oldest.ageSeconds }, 'oldest waiting job ', h('strong', {}, duration(r.oldest.ageSeconds)), ' old: ', h('code', {}, `${r.oldest.country}/${r.oldest.job}`), ` in ${r.oldest.state}/${sampled}`));
    } else {
      notes.push(h('li', {}, 'no job waiting'));
    }
    byId('queue-notes').replaceChildren(...notes);
  }

  function niceScale(peak: number, unit: 'count' | 'bytes'): { ticks: number[]; label: (v: number) => string } {
    let scale = 1;
    let name = '';
    if (unit === 'bytes') {
      const names = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let i = 0;
      while (peak / scale >= 1024 && i < names.length - 1) {
        scale *= 1024;
        i++;
      }
      name = ` ${names[i]}`;
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

  function drawChart(chart: SVGSVGElement, times: string[], series: Series[], mode: 'stacked' | 'lines', unit: 'count' | 'bytes'): void {
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
    const show = unit === 'bytes' ? bytes : integer;
    for (let i = 0; i < n; i++) {
      const text = `${clock(times[i]!, false)}  ${series.map((s) => `${s.label} ${show(s.values[i] ?? 0)}`).join(' · ')}`;
      nodes.push(svg('rect', { class: 'hover', x: f(x(i)), y: m.top, width: f(Math.max(bw, 1)), height: ph }, svg('title', {}, text)));
    }
    chart.replaceChildren(...nodes);
  }

  function legend(id: string, series: Series[], hour: Record<string, number>, unit: 'count' | 'bytes'): void {
    byId(id).replaceChildren(
      ...series.map((s) => {
        const swatch = h('i', { class: 'swatch' });
        swatch.style.background = s.color;
        return h('span', { class: 'key' }, swatch, s.label, h('span', { class: 'muted' }, ` ${unit === 'bytes' ? bytes(hour[s.name] ?? 0) : integer(hour[s.name] ?? 0)}/h`));
      }),
    );
  }

  function renderThroughput(r: Report): void {
    const minutes = r.throughput.minutes;
    const times = minutes.map((m) => m.t);
    const pick = (k: 'thumbed' | 'skipped' | 'failed' | 'bytesIn' | 'bytesOut'): number[] => minutes.map((m) => Number(m[k]) || 0);
    const images: Series[] = [
      { name: 'thumbed', label: 'thumbed', color: COLORS.thumbed, values: pick('thumbed') },
      { name: 'skipped', label: 'already there', color: COLORS.skipped, values: pick('skipped') },
      { name: 'failed', label: 'failed', color: COLORS.failed, values: pick('failed') },
    ];
    const traffic: Series[] = [
      { name: 'bytesIn', label: 'downloaded', color: COLORS.bytesIn, values: pick('bytesIn') },
      { name: 'bytesOut', label: 'written', color: COLORS.bytesOut, values: pick('bytesOut') },
    ];
    const hour = r.throughput.lastHour as unknown as Record<string, number>;
    legend('legend-images', images, hour, 'count');
    legend('legend-bytes', traffic, hour, 'bytes');
    drawChart(chartImages, times, images, 'stacked', 'count');
    drawChart(chartBytes, times, traffic, 'lines', 'bytes');
    const span = minutes.length >= 120 ? `${Math.round(minutes.length / 60)} hours` : `${minutes.length} minutes`;
    byId('throughput-span').textContent = `last ${span}, per minute, all engines`;
    const fields = ['thumbed', 'skipped', 'failed', 'retries', 'bytesIn', 'bytesOut'] as const;
    const row = (key: 'last5Minutes' | 'lastHour', label: string): HTMLElement =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, label),
        ...fields.map((field) => {
          const value = Number(r.throughput[key][field]) || 0;
          const isBytes = field === 'bytesIn' || field === 'bytesOut';
          return h('td', { class: `num${value === 0 ? ' zero' : ''}${field === 'failed' && value > 0 ? ' bad' : ''}`, 'data-rate': `${key}.${field}`, 'data-value': value }, isBytes ? bytes(value) : integer(value));
        }),
      );
    byId('rates-body').replaceChildren(row('last5Minutes', 'last 5 minutes'), row('lastHour', 'last hour'));
  }

  function renderFailures(r: Report): void {
    const sum = r.failures.reduce((total, f) => total + f.count, 0);
    const read = r.failuresRead ?? r.totals.failed;
    byId('failures-hint').textContent = read < r.totals.failed ? `from ${integer(read)} of the ${integer(r.totals.failed)} failed jobs, with examples` : 'failed jobs in the spool, with examples';
    fillRows(
      byId('failures-body'),
      r.failures.map((f) => {
        const share = sum > 0 ? Math.round((100 * f.count) / sum) : 0;
        const bar = h('i', { class: 'share-fill' });
        bar.style.width = `${share}%`;
        return h(
          'tr',
          { 'data-failure-code': f.code },
          h('td', {}, h('code', { class: 'code' }, f.code)),
          h('td', { class: 'num', 'data-failure-count': '' }, integer(f.count)),
          h('td', { class: 'share' }, h('span', { class: 'share-bar' }, bar), h('span', { class: 'muted' }, `${share}%`)),
          h('td', { class: 'examples' }, h('ul', {}, ...(f.examples ?? []).map((e) => h('li', { class: 'example' }, urlNode(e.url), h('span', { class: 'error', title: e.error }, e.error))))),
        );
      }),
      4,
      'no failed jobs',
    );
  }

  function renderPaused(r: Report): void {
    fillRows(
      byId('paused-body'),
      r.paused.map((p) => {
        const colon = p.source.indexOf(':');
        const kind = colon > 0 ? p.source.slice(0, colon) : 'source';
        const name = colon > 0 ? p.source.slice(colon + 1) : p.source;
        return h(
          'tr',
          { 'data-paused': p.source },
          h('td', { class: 'nowrap' }, h('span', { class: 'pill' }, kind), ' ', h('span', { class: 'mono' }, name)),
          h('td', { title: p.until }, stamp(p.until, r.at), h('div', { class: 'muted small' }, ago(p.until, r.at))),
          h('td', { class: 'num' }, `${p.failures}/${p.attempts}`),
          h('td', { class: 'num' }, integer(p.strikes)),
          h('td', {}, p.lastFailure ? h('code', { class: 'code' }, p.lastFailure) : ''),
          h('td', { class: 'mono small muted nowrap' }, p.engine),
        );
      }),
      6,
      'no host or datasource is paused',
    );
  }

  function renderTargets(r: Report): void {
    const targets = r.targets ?? [];
    fillRows(
      byId('targets-body'),
      targets.map((t) => {
        const tone = t.lastError ? 'bad' : t.lagSeconds === null ? 'warn' : 'ok';
        return h(
          'tr',
          { 'data-target': t.target, 'data-lag': t.lagSeconds === null ? '' : t.lagSeconds, class: t.lastError ? 'behind' : '' },
          h('td', { class: 'nowrap' }, h('i', { class: `dot ${tone}` }), h('strong', {}, t.target)),
          h('td', { class: 'num' }, t.seeding ? 'seeding' : t.lagSeconds === null ? 'never level' : duration(t.lagSeconds)),
          num(t.backlog, { 'data-backlog': '' }),
          h('td', { class: 'nowrap', title: t.lastLevelAt ?? '' }, stamp(t.lastLevelAt, r.at)),
          h('td', { class: 'nowrap', title: t.lastAttemptAt ?? '' }, stamp(t.lastAttemptAt, r.at)),
          h('td', { class: 'error error-text' }, t.lastError ?? ''),
        );
      }),
      6,
      'no sweep targets configured',
    );
  }

  function renderDisk(r: Report): void {
    const items = r.disk.map((d) => {
      const used = d.totalBytes > 0 ? Math.min(100, Math.max(0, (100 * (d.totalBytes - d.freeBytes)) / d.totalBytes)) : 0;
      const fill = h('i', { class: `fill${used >= 90 ? ' bad' : used >= 80 ? ' warn' : ''}` });
      fill.style.width = `${used.toFixed(1)}%`;
      return h(
        'div',
        { class: 'disk', 'data-disk': d.path, 'data-free': d.freeBytes, 'data-total': d.totalBytes },
        h('div', { class: 'disk-head' }, h('span', { class: 'mono path', title: d.path }, d.path), h('span', { class: 'free' }, h('strong', {}, bytes(d.freeBytes)), ` free of ${bytes(d.totalBytes)}`)),
        h('span', { class: 'bar wide', title: `${used.toFixed(1)}% used` }, fill),
        h('div', { class: `small ${used >= 90 ? 'bad-text' : 'muted'}` }, `${Math.round(used)}% used`),
      );
    });
    byId('disk-list').replaceChildren(...(items.length > 0 ? items : [h('p', { class: 'muted empty-note' }, 'no file system could be read')]));
  }

  function renderEngines(r: Report): void {
    fillRows(
      byId('engines-body'),
      r.engines.map((e) => {
        const up = secondsSince(e.startedAt, e.updatedAt);
        const seen = secondsSince(e.updatedAt, r.at);
        return h(
          'tr',
          { 'data-engine': `${e.host}~${e.pid}`, 'data-alive': String(e.alive) },
          h('td', { class: 'nowrap' }, h('i', { class: `dot ${e.alive ? 'ok' : 'bad'}` }), h('span', { class: 'mono' }, `${e.host}~${e.pid}`)),
          h('td', {}, e.mode),
          h('td', {}, e.countries.join(' ')),
          h('td', {}, e.alive ? `running ${duration(up)}` : h('span', { class: 'bad-text' }, `NOT RUNNING, last seen ${duration(seen)} ago`), e.downloadsPaused ? h('div', { class: 'warn-text small' }, `downloads paused: ${e.downloadsPaused}`) : null),
          num(e.stats.thumbed, {}),
          num(e.stats.failed, {}, e.stats.failed > 0 ? 'bad' : ''),
          num(e.stats.retries, {}),
          num(e.stats.stuck, {}),
          num(e.queued.active, {}),
          num(e.queued.waiting, {}),
        );
      }),
      10,
      'no engine has run on this spool lately',
    );
    const pages = r.pages ?? [];
    byId('pages').replaceChildren(...(pages.length > 0 ? [h('span', { class: 'muted' }, 'status pages of the running engines: '), ...pages.flatMap((p, i) => [i > 0 ? ', ' : '', urlNode(p)])] : []));
  }

  /** `tree/<path>` with each segment encoded; undefined for a path that tries to leave the tree. */
  function treeSrc(path: string): string | undefined {
    const parts = path.split('/').filter((p) => p !== '');
    if (parts.length === 0 || parts.some((p) => p === '.' || p === '..' || p.includes('\\'))) return undefined;
    return `tree/${parts.map(encodeURIComponent).join('/')}`;
  }
  function renderLatest(r: Report): void {
    const strip = byId('latest');
    const old = new Map<string, HTMLImageElement>();
    for (const img of Array.from(strip.querySelectorAll('img'))) old.set(img.getAttribute('src') ?? '', img);
    const items = (r.latest ?? []).flatMap((t) => {
      const smallest = [...t.sizes].sort((a, b) => a.width * a.height - b.width * b.height)[0];
      const src = smallest ? treeSrc(smallest.path) : undefined;
      if (!smallest || !src) return [];
      // reuse the element of an image already shown, so a refresh does not reload or flicker it
      const img = old.get(src) ?? h('img', { src, alt: '', loading: 'lazy', decoding: 'async' });
      img.title = t.url;
      img.dataset.hash = t.hash;
      img.width = smallest.width;
      img.height = smallest.height;
      return [h('figure', { class: 'thumb' }, img, h('figcaption', {}, h('strong', {}, t.country), ` · ${ago(t.at, r.at)}`))];
    });
    if (items.length > 0) strip.replaceChildren(...items);
    else strip.replaceChildren(h('p', { class: 'muted' }, 'no thumbnail made lately'));
  }

  function render(r: Report): void {
    renderHeader(r);
    renderGlance(r);
    renderQueue(r);
    renderThroughput(r);
    renderFailures(r);
    renderPaused(r);
    renderTargets(r);
    renderDisk(r);
    renderEngines(r);
    renderLatest(r);
  }

  // ---- the refresh loop ----
  let last: Report | undefined;
  let refreshMs = DEFAULT_REFRESH_MS;
  function showError(message: string): void {
    const banner = byId('error');
    banner.hidden = false;
    banner.replaceChildren(
      h('strong', {}, `${clock(new Date().toISOString())}: `),
      message,
      last ? ` Showing the data of ${clock(last.at)}; retrying every ${refreshMs / 1000}s.` : ` Retrying every ${refreshMs / 1000}s.`,
    );
  }
  async function refresh(): Promise<void> {
    let report: Report;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
    try {
      const response = await fetch('api/status', { cache: 'no-store', headers: { accept: 'application/json' }, signal: abort.signal });
      if (!response.ok) throw new Error(`the daemon answered HTTP ${response.status}`);
      report = (await response.json()) as Report;
    } catch (error) {
      showError(`Could not load the status (${error instanceof Error ? error.message : String(error)}).`);
      return;
    } finally {
      clearTimeout(timer);
    }
    try {
      render(report);
      last = report;
      if (typeof report.refreshSeconds === 'number' && report.refreshSeconds > 0) refreshMs = report.refreshSeconds * 1000;
      byId('error').hidden = true;
    } catch (error) {
      showError(`Could not show the status (${error instanceof Error ? error.message : String(error)}).`);
    }
  }
  async function loop(): Promise<void> {
    await refresh();
    setTimeout(() => void loop(), refreshMs);
  }
  let resizing: ReturnType<typeof setTimeout> | undefined;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => {
      if (last) renderThroughput(last);
    }, 150);
  });
  void loop();
}

const STYLE = `
:root {
  --bg: #f5f6f8; --card: #ffffff; --line: #e3e6eb; --line-soft: #eef0f3; --text: #1d2430; --muted: #667085;
  --ok: #1f8a4c; --ok-bg: #e6f4ec; --warn: #a65b00; --warn-bg: #fff3e0; --bad: #c3312f; --bad-bg: #fdecec;
  --accent: #2f6fde;
  --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
}
* { box-sizing: border-box; }
html { background: var(--bg); }
body {
  margin: 0; color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  "Noto Sans", "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-variant-numeric: tabular-nums;
}
header.top {
  display: flex; flex-wrap: wrap; align-items: center; gap: 8px 20px; padding: 12px 24px;
  background: var(--card); border-bottom: 1px solid var(--line);
}
header.top h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
header.top h1 span { color: var(--muted); font-weight: 400; }
.badges { display: flex; gap: 8px; }
.paths { display: flex; flex-wrap: wrap; gap: 4px 18px; color: var(--muted); font-size: 13px; }
.paths code { color: var(--text); }
#updated { margin-left: auto; color: var(--muted); font-size: 13px; }
.badge { display: inline-block; padding: 3px 10px; border-radius: 999px; font-size: 12.5px; font-weight: 600; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.bad { color: #fff; background: var(--bad); letter-spacing: .3px; }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.banner { margin: 12px 24px 0; padding: 10px 14px; border-radius: 8px; border: 1px solid; }
.banner.error { color: var(--bad); background: var(--bad-bg); border-color: #f3c2c1; }
.banner.warn { color: var(--warn); background: var(--warn-bg); border-color: #f5d7a8; }
[hidden] { display: none !important; }
main { max-width: 1480px; margin: 0 auto; padding: 16px 24px 32px; display: grid; gap: 16px; grid-template-columns: repeat(12, minmax(0, 1fr)); }
section.card { grid-column: span 12; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px 16px; min-width: 0; overflow-x: auto; }
section.narrow { grid-column: span 5; }
section.wide { grid-column: span 7; }
section.third { grid-column: span 4; }
section.two-thirds { grid-column: span 8; }
@media (max-width: 1000px) { section.narrow, section.wide, section.third, section.two-thirds { grid-column: span 12; } }
.head { display: flex; align-items: baseline; gap: 12px; margin-bottom: 10px; }
h2 { margin: 0; font-size: 15px; font-weight: 650; }
.hint, .muted { color: var(--muted); }
.small { font-size: 12px; }
.mono, code { font-family: var(--mono); font-size: 12.5px; }
#glance { grid-column: span 12; display: grid; grid-template-columns: repeat(6, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1000px) { #glance { grid-template-columns: repeat(3, minmax(0, 1fr)); } }
.glance { background: var(--card); border: 1px solid var(--line); border-left: 4px solid #c5d3ea; border-radius: 10px; padding: 10px 14px; min-width: 0; }
.glance.warn { border-left-color: #f0a640; }
.glance.bad { border-left-color: var(--bad); }
.glance .label { color: var(--muted); font-size: 12.5px; }
.glance .value { font-size: 24px; font-weight: 650; line-height: 1.3; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.glance.bad .value { color: var(--bad); }
.glance .sub { color: var(--muted); font-size: 12px; line-height: 1.35; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 6px 10px; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line-soft); }
thead th { color: var(--muted); font-weight: 500; font-size: 12.5px; border-bottom: 1px solid var(--line); white-space: nowrap; }
tbody th { font-weight: 600; }
td.nowrap, th.nowrap { white-space: nowrap; }
tfoot th, tfoot td { border-top: 1px solid var(--line); border-bottom: 0; font-weight: 650; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.zero { color: #a0a7b4; }
td.bad, .bad-text { color: var(--bad); font-weight: 600; }
.warn-text { color: var(--warn); }
tr.empty td { color: var(--muted); font-style: italic; }
tr.behind td { background: #fff8f7; }
.notes { margin: 10px 0 0; padding: 0; list-style: none; color: var(--muted); }
.notes li { margin: 2px 0; }
.notes strong, .notes [data-batches] { color: var(--text); }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
@media (max-width: 1000px) { .charts { grid-template-columns: 1fr; } }
figure { margin: 0; min-width: 0; }
figcaption.chart-caption { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 14px; margin-bottom: 4px; }
figcaption .title { font-weight: 600; }
.key { font-size: 12.5px; white-space: nowrap; margin-right: 12px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
svg.chart { display: block; width: 100%; height: 210px; overflow: visible; }
svg.chart .grid { stroke: #edf0f3; }
svg.chart .axis, svg.chart .tick { stroke: #b9c0ca; }
svg.chart text { fill: #6b7380; font-size: 11px; }
svg.chart .nodata { fill: #9aa2ad; font-size: 13px; }
svg.chart .hover { fill: transparent; }
svg.chart .hover:hover { fill: rgba(29, 36, 48, .07); }
table.rates { margin-top: 12px; }
table.rates th[scope=row] { font-weight: 500; color: var(--muted); width: 1%; white-space: nowrap; }
code.code { background: var(--bad-bg); color: var(--bad); padding: 1px 6px; border-radius: 4px; white-space: nowrap; }
td.share { white-space: nowrap; width: 1%; }
.share-bar { display: inline-block; width: 60px; height: 6px; background: var(--line-soft); border-radius: 3px; margin-right: 6px; vertical-align: middle; overflow: hidden; }
.share-fill { display: block; height: 100%; background: #e48b8a; }
td.examples ul { margin: 0; padding: 0; list-style: none; }
.example { display: flex; gap: 10px; min-width: 0; }
.example + .example { margin-top: 2px; }
.example .url { font-family: var(--mono); font-size: 12px; flex: 0 1 auto; max-width: 62%; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.example .error { color: var(--muted); flex: 1 1 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; min-width: 0; }
a.url { color: var(--accent); text-decoration: none; }
a.url:hover { text-decoration: underline; }
td.examples { max-width: 0; width: 70%; }
.error-text { color: var(--bad); font-size: 12.5px; overflow-wrap: anywhere; }
.pill { display: inline-block; padding: 0 7px; border-radius: 999px; background: var(--warn-bg); color: var(--warn); font-size: 11.5px; font-weight: 600; }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 8px; background: #b9c0ca; vertical-align: 1px; }
.dot.ok { background: var(--ok); }
.dot.warn { background: #f0a640; }
.dot.bad { background: var(--bad); }
.bar { display: inline-block; width: 64px; height: 8px; background: var(--line-soft); border-radius: 4px; overflow: hidden; vertical-align: middle; margin-right: 8px; }
.bar.wide { display: block; width: 100%; height: 10px; margin: 0 0 3px; }
.disk + .disk { margin-top: 14px; }
.disk-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; margin-bottom: 5px; }
.disk-head .path { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.disk-head .free { white-space: nowrap; color: var(--muted); }
.disk-head .free strong { color: var(--text); }
.empty-note { font-style: italic; margin: 6px 0; }
.bar .fill { display: block; height: 100%; background: #7fa8ec; }
.bar .fill.warn { background: #f0a640; }
.bar .fill.bad { background: var(--bad); }
#pages { margin-top: 8px; font-size: 12.5px; }
#latest { display: flex; gap: 12px; overflow-x: auto; padding-bottom: 4px; }
.thumb { flex: 0 0 auto; text-align: center; }
.thumb img { display: block; height: 96px; width: auto; border-radius: 6px; border: 1px solid var(--line); background: var(--line-soft); }
.thumb figcaption { font-size: 11.5px; color: var(--muted); margin-top: 3px; }
`;

const BODY = `
<header class="top">
  <h1>ImageSys <span>status</span></h1>
  <div class="badges"><span id="state" class="badge" data-state="">loading…</span><span id="downloads-paused" class="badge warn" hidden>downloads paused</span></div>
  <div class="paths"><span>spool <code id="spool"></code></span><span>tree <code id="tree"></code></span></div>
  <span id="updated" data-updated="">waiting for the first report…</span>
</header>
<div id="error" class="banner error" role="alert" hidden></div>
<div id="downloads-paused-reasons" class="banner warn" hidden></div>
<main>
  <div id="glance"></div>

  <section class="card">
    <div class="head"><h2>Throughput</h2><span class="hint" id="throughput-span"></span></div>
    <div class="charts">
      <figure>
        <figcaption class="chart-caption"><span class="title">Images per minute</span><span id="legend-images"></span></figcaption>
        <svg id="chart-images" class="chart" role="img" aria-label="Images per minute: thumbed, already there, failed"></svg>
      </figure>
      <figure>
        <figcaption class="chart-caption"><span class="title">Bytes per minute</span><span id="legend-bytes"></span></figcaption>
        <svg id="chart-bytes" class="chart" role="img" aria-label="Bytes downloaded and written per minute"></svg>
      </figure>
    </div>
    <table class="rates">
      <thead><tr><th></th><th class="num">thumbed</th><th class="num">already there</th><th class="num">failed</th><th class="num">retries</th><th class="num">downloaded</th><th class="num">written</th></tr></thead>
      <tbody id="rates-body"></tbody>
    </table>
  </section>

  <section class="card narrow">
    <div class="head"><h2>Queue</h2><span class="hint">jobs per country and state</span></div>
    <table>
      <thead><tr><th>country</th><th class="num">incoming</th><th class="num">downloaded</th><th class="num">thumbed</th><th class="num">failed</th></tr></thead>
      <tbody id="queue-body"></tbody>
      <tfoot id="queue-foot"></tfoot>
    </table>
    <ul class="notes" id="queue-notes"></ul>
  </section>

  <section class="card wide">
    <div class="head"><h2>Targets</h2><span class="hint">how far each frontend is behind</span></div>
    <table>
      <thead><tr><th>target</th><th class="num">lag</th><th class="num">backlog</th><th>last level</th><th>last attempt</th><th>last error</th></tr></thead>
      <tbody id="targets-body"></tbody>
    </table>
  </section>

  <section class="card">
    <div class="head"><h2>Top failure reasons</h2><span class="hint" id="failures-hint">failed jobs in the spool, with examples</span></div>
    <table>
      <thead><tr><th>reason</th><th class="num">jobs</th><th>share</th><th>examples</th></tr></thead>
      <tbody id="failures-body"></tbody>
    </table>
  </section>

  <section class="card two-thirds">
    <div class="head"><h2>Paused sources</h2><span class="hint">failing too often; their jobs wait</span></div>
    <table>
      <thead><tr><th>source</th><th>until</th><th class="num">failed</th><th class="num">pause #</th><th>last failure</th><th>engine</th></tr></thead>
      <tbody id="paused-body"></tbody>
    </table>
  </section>

  <section class="card third">
    <div class="head"><h2>Disk</h2><span class="hint">spool and tree</span></div>
    <div id="disk-list"></div>
  </section>

  <section class="card">
    <div class="head"><h2>Engines</h2><span class="hint">from their state files; since each started</span></div>
    <table>
      <thead><tr><th>engine</th><th>mode</th><th>countries</th><th>state</th><th class="num">thumbed</th><th class="num">failed</th><th class="num">retries</th><th class="num">stuck</th><th class="num">in progress</th><th class="num">waiting</th></tr></thead>
      <tbody id="engines-body"></tbody>
    </table>
    <div id="pages"></div>
  </section>

  <section class="card">
    <div class="head"><h2>Latest thumbnails</h2><span class="hint">newest first; hover for the source URL</span></div>
    <div id="latest"></div>
  </section>
</main>
`;

const SCRIPT = `(${statusPageClient.toString()})();`;
if (SCRIPT.toLowerCase().includes('</script') || STYLE.toLowerCase().includes('</style')) throw new Error('status page: the inline script or style would end early');

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * Only this page's own script and style; fetches and images from the daemon alone. Also sent as a
 * header by the server (a header can forbid framing, which the meta tag cannot).
 */
export const STATUS_PAGE_CSP = [`default-src 'none'`, `script-src ${sha256(SCRIPT)}`, `style-src ${sha256(STYLE)}`, `img-src 'self' data:`, `connect-src 'self'`, `base-uri 'none'`, `form-action 'none'`].join('; ');

/** The status page: one HTML document that needs nothing but `api/status` and `tree/...` from the daemon. */
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="${STATUS_PAGE_CSP}">
<title>ImageSys status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${SCRIPT}</script>
</body>
</html>
`;
