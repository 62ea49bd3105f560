/** The strip of the latest thumbnails, loaded from the daemon's `tree/`. */
import type { StatusReport } from '../../status.js';
import { byId, h } from './dom.js';
import { ago } from './time.js';

/** `tree/<path>` with each segment encoded; undefined for a path that tries to leave the tree. */
function treeSrc(path: string): string | undefined {
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0 || parts.some((p) => p === '.' || p === '..' || p.includes('\\'))) return undefined;
  return `tree/${parts.map(encodeURIComponent).join('/')}`;
}
export function renderLatest(r: StatusReport): void {
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
