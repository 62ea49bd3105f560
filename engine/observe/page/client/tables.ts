/**
 * The page's tables: the queue per country and state, failure reasons with examples, paused
 * sources, sweep targets, disks and engines.
 */
import { formatBytes, formatClockOffset, formatCount, formatDuration, secondsBetween } from '../../format.js';
import type { StatusReport } from '../../status.js';
import { byId, fillRows, h, num, urlNode } from './dom.js';
import { ago, stamp } from './time.js';

/** The spool's states, in the order of the queue table's columns. */
const STATES = ['incoming', 'downloaded', 'thumbed', 'failed'] as const satisfies ReadonlyArray<keyof StatusReport['totals']>;

export function renderQueue(r: StatusReport): void {
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
  const batches = h('span', { 'data-batches': '' }, formatCount(r.batches));
  const notes: HTMLElement[] = [h('li', {}, batches, ` batch ${r.batches === 1 ? 'file' : 'files'} waiting to be read`)];
  if (r.oldest) {
    const waiting = r.totals.incoming + r.totals.downloaded;
    const sampled = r.oldestOf !== undefined && r.oldestOf < waiting ? ` (the oldest of ${formatCount(r.oldestOf)} looked at)` : '';
    notes.push(h('li', { 'data-oldest-age': r.oldest.ageSeconds }, 'oldest waiting job ', h('strong', {}, formatDuration(r.oldest.ageSeconds)), ' old: ', h('code', {}, `${r.oldest.country}/${r.oldest.job}`), ` in ${r.oldest.state}/${sampled}`));
  } else {
    notes.push(h('li', {}, 'no job waiting'));
  }
  byId('queue-notes').replaceChildren(...notes);
}

export function renderFailures(r: StatusReport): void {
  const sum = r.failures.reduce((total, f) => total + f.count, 0);
  const read = r.failuresRead ?? r.totals.failed;
  byId('failures-hint').textContent = read < r.totals.failed ? `from ${formatCount(read)} of the ${formatCount(r.totals.failed)} failed jobs, with examples` : 'failed jobs in the spool, with examples';
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
        h('td', { class: 'num', 'data-failure-count': '' }, formatCount(f.count)),
        h('td', { class: 'share' }, h('span', { class: 'share-bar' }, bar), h('span', { class: 'muted' }, `${share}%`)),
        h('td', { class: 'examples' }, h('ul', {}, ...(f.examples ?? []).map((e) => h('li', { class: 'example' }, urlNode(e.url), h('span', { class: 'error', title: e.error }, e.error))))),
      );
    }),
    4,
    'no failed jobs',
  );
}

export function renderPaused(r: StatusReport): void {
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
        h('td', { class: 'num' }, formatCount(p.strikes)),
        h('td', {}, p.lastFailure ? h('code', { class: 'code' }, p.lastFailure) : ''),
        h('td', { class: 'mono small muted nowrap' }, p.engine),
      );
    }),
    6,
    'no host or datasource is paused',
  );
}

export function renderTargets(r: StatusReport): void {
  const targets = r.targets ?? [];
  fillRows(
    byId('targets-body'),
    targets.map((t) => {
      const tone = t.lastError ? 'bad' : t.lagSeconds === null ? 'warn' : 'ok';
      return h(
        'tr',
        { 'data-target': t.target, 'data-lag': t.lagSeconds ?? '', class: t.lastError ? 'behind' : '' },
        h('td', { class: 'nowrap' }, h('i', { class: `dot ${tone}` }), h('strong', {}, t.target)),
        h('td', { class: 'num' }, t.seeding ? 'seeding' : t.lagSeconds === null ? 'never level' : formatDuration(t.lagSeconds)),
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

export function renderDisk(r: StatusReport): void {
  const items = r.disk.map((d) => {
    const used = d.totalBytes > 0 ? Math.min(100, Math.max(0, (100 * (d.totalBytes - d.freeBytes)) / d.totalBytes)) : 0;
    const fill = h('i', { class: `fill${used >= 90 ? ' bad' : used >= 80 ? ' warn' : ''}` });
    fill.style.width = `${used.toFixed(1)}%`;
    return h(
      'div',
      { class: 'disk', 'data-disk': d.path, 'data-free': d.freeBytes, 'data-total': d.totalBytes },
      h('div', { class: 'disk-head' }, h('span', { class: 'mono path', title: d.path }, d.path), h('span', { class: 'free' }, h('strong', {}, formatBytes(d.freeBytes)), ` free of ${formatBytes(d.totalBytes)}`)),
      h('span', { class: 'bar wide', title: `${used.toFixed(1)}% used` }, fill),
      h('div', { class: `small ${used >= 90 ? 'bad-text' : 'muted'}` }, `${Math.round(used)}% used`),
    );
  });
  byId('disk-list').replaceChildren(...(items.length > 0 ? items : [h('p', { class: 'muted empty-note' }, 'no file system could be read')]));
}

export function renderEngines(r: StatusReport): void {
  fillRows(
    byId('engines-body'),
    r.engines.map((e) => {
      const up = secondsBetween(e.startedAt, e.updatedAt);
      const seen = secondsBetween(e.updatedAt, r.at);
      return h(
        'tr',
        { 'data-engine': `${e.host}~${e.pid}`, 'data-alive': String(e.alive) },
        h('td', { class: 'nowrap' }, h('i', { class: `dot ${e.alive ? 'ok' : 'bad'}` }), h('span', { class: 'mono' }, `${e.host}~${e.pid}`)),
        h('td', {}, e.mode),
        h('td', {}, e.countries.join(' ')),
        h('td', {}, e.alive ? `running ${formatDuration(up)}` : h('span', { class: 'bad-text' }, `NOT RUNNING, last seen ${formatDuration(seen)} ago`), e.downloadsPaused ? h('div', { class: 'warn-text small' }, `downloads paused: ${e.downloadsPaused}`) : null, e.clock ? h('div', { class: `small ${e.clock.level === 'ok' ? 'muted' : 'warn-text'}`, 'data-clock-offset-ms': String(e.clock.offsetMs) }, formatClockOffset(e.clock.offsetMs)) : null),
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
