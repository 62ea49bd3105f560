/** The page's top: the running badge, the paths, when the shown report was made, the summary cards. */
import { formatCount, formatDuration, plural } from '../../format.js';
import type { StatusReport } from '../../status.js';
import { byId, h, type Child } from './dom.js';
import { clock } from './time.js';

export function renderHeader(r: StatusReport): void {
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
export function renderGlance(r: StatusReport): void {
  const waiting = r.totals.incoming + r.totals.downloaded;
  const hour = r.throughput.lastHour;
  const five = r.throughput.last5Minutes;
  const targets = r.targets ?? [];
  const worst = [...targets].sort((a, b) => (b.lagSeconds ?? Infinity) - (a.lagSeconds ?? Infinity))[0];
  const failing = targets.filter((t) => t.lastError).length;
  const hosts = r.paused.filter((p) => p.source.startsWith('host:')).length;
  byId('glance').replaceChildren(
    card('waiting', 'Jobs waiting', formatCount(waiting), `${r.totals.incoming} to download, ${r.totals.downloaded} to thumbnail`),
    card('oldest', 'Oldest waiting job', r.oldest ? formatDuration(r.oldest.ageSeconds) : '–', r.oldest ? `${r.oldest.country} · ${r.oldest.state}` : 'nothing waits', r.oldest && r.oldest.ageSeconds > 3600 ? 'warn' : ''),
    card('thumbed-hour', 'Thumbed, last hour', formatCount(hour.thumbed), `${five.thumbed} in the last 5 min · ${hour.skipped} already there`),
    card('failed-hour', 'Failed, last hour', formatCount(hour.failed), `${hour.retries} retries · ${r.totals.failed} failed jobs kept`, hour.failed > 0 ? 'bad' : ''),
    card('lag', 'Largest target lag', worst ? (worst.seeding ? 'seeding' : worst.lagSeconds === null ? 'never level' : formatDuration(worst.lagSeconds)) : '–', worst ? `${worst.target}${failing > 0 ? ` · ${failing} failing` : ''}` : 'no targets', failing > 0 ? 'bad' : ''),
    card('paused', 'Paused sources', formatCount(r.paused.length), r.paused.length > 0 ? `${plural(hosts, 'host')} · ${plural(r.paused.length - hosts, 'datasource')}` : 'none', r.paused.length > 0 ? 'warn' : ''),
    card('classes', 'Images by class', formatCount(r.classes.photo), `photos · ${formatCount(r.classes.placeholder)} placeholders · ${formatCount(r.classes.duplicate)} duplicates`),
  );
}
