/** What each timed sweep must have done, checked on disk: a figure for a sweep that failed would mean nothing. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { hashForUrl } from '../../engine/core/hash.js';
import { manifestRel, thumbRel, urlOf, type Bench } from './sweep-bench.js';
import type { Timed } from './timed-sweep.js';

export function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`check failed: ${message}`);
}

export function checkSync(bench: Bench, timed: Timed, added: number[]): void {
  const r = timed.result;
  check(r.handedOut === added.length, `handed out ${r.handedOut}, expected ${added.length}`);
  for (const t of r.targets) check(t.level && t.sent === added.length && !t.error, `${t.target}: level ${t.level}, sent ${t.sent}${t.error ? `, ${t.error}` : ''}`);
  check(r.released === added.length, `released ${r.released}, expected ${added.length}`);
  for (const daemon of bench.daemons) {
    let missing = 0;
    for (const i of added) {
      const hash = hashForUrl(urlOf(i));
      if (!existsSync(join(daemon.data, manifestRel(hash))) || !existsSync(join(daemon.data, thumbRel(hash)))) missing++;
    }
    check(missing === 0, `${daemon.name}: ${missing} of the ${added.length} new images missing`);
  }
}

export function checkPurge(bench: Bench, timed: Timed, purged: number[]): void {
  const r = timed.result;
  check(r.purge?.purged === purged.length, `purged ${r.purge?.purged}, expected ${purged.length}`);
  for (const t of r.targets) check(t.level && t.deleted === purged.length && !t.error, `${t.target}: level ${t.level}, deleted ${t.deleted}${t.error ? `, ${t.error}` : ''}`);
  for (const root of [bench.tree, ...bench.daemons.map((d) => d.data)]) {
    let left = 0;
    for (const i of purged) {
      const hash = hashForUrl(urlOf(i));
      if (existsSync(join(root, manifestRel(hash))) || existsSync(join(root, thumbRel(hash)))) left++;
    }
    check(left === 0, `${root}: ${left} of the ${purged.length} purged images still there`);
  }
  const keep = bench.present[Math.floor(bench.present.length / 2)];
  check(keep !== undefined, 'images remain in the tree');
  const keepHash = hashForUrl(urlOf(keep!));
  for (const root of [bench.tree, bench.daemons[0]!.data]) check(existsSync(join(root, manifestRel(keepHash))), `${root}: image ${keep} should remain`);
}
