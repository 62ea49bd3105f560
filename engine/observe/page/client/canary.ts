/** The canary card: per target, the last canary checked (its timings, or where it stopped) and the last that arrived. */
import type { StatusReport } from '../../status.js';
import { byId, fillRows, h } from './dom.js';
import { ago, stamp } from './time.js';

const seconds = (s: number | undefined): string => (s === undefined ? '' : `${s.toFixed(1)} s`);

export function renderCanary(r: StatusReport): void {
  const canaries = r.canary ?? [];
  fillRows(
    byId('canary-body'),
    canaries.map((c) => {
      const { intake, download, thumbnail, sync } = c.timings;
      return h(
        'tr',
        { 'data-canary': c.target, 'data-ok': String(c.ok), class: c.ok ? '' : 'behind' },
        h('td', { class: 'nowrap' }, h('i', { class: `dot ${c.ok ? 'ok' : 'bad'}` }), h('strong', {}, c.target)),
        h('td', { class: 'nowrap', title: c.droppedAt }, `${c.ok ? 'arrived' : 'FAILED'}, sent ${stamp(c.droppedAt, r.at)}`),
        h('td', { class: 'num', 'data-canary-seconds': c.seconds ?? '' }, seconds(c.seconds)),
        h('td', { class: 'num' }, seconds(intake)),
        h('td', { class: 'num' }, seconds(download)),
        h('td', { class: 'num' }, seconds(thumbnail)),
        h('td', { class: 'num' }, seconds(sync[c.target])),
        h('td', { class: 'nowrap', title: c.lastSuccessAt ?? '' }, ago(c.lastSuccessAt, r.at)),
        h('td', { class: 'error error-text', 'data-canary-stage': c.failure?.stage ?? '' }, c.failure ? `at ${c.failure.stage}: ${c.failure.reason}` : ''),
      );
    }),
    9,
    'no canary checked yet (canary.intervalMinutes 0 turns them off)',
  );
}
