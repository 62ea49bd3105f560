import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { pagePlaceholder, pictureData, pictureHtml, toThumbnails } from '../engine/interface.js';
import type { Manifest } from '../engine/tree/tree.js';

const HASH = '880da12b5b5613e4f16bc19fd3060f05';
const stem = `uk/88/0d/${HASH}`;
const size = (name: string, format: Manifest['sizes'][number]['format'], width: number, height: number, bytes: number) => ({ name, format, width, height, bytes, quality: 75, path: `${stem}.${name}.${format === 'jpeg' ? 'jpg' : format}` });
const manifest = (sizes: Manifest['sizes'], placeholder?: Manifest['placeholder']): Manifest => ({
  version: 1,
  url: 'https://photos.example/1.jpg',
  hash: HASH,
  country: 'uk',
  sizes,
  source: { width: 800, height: 600, format: 'jpeg', bytes: 60_000 },
  digest: 'sha256:00',
  ...(placeholder ? { placeholder } : {}),
  processing: { quality: 75, sharpen: 0, gamma: 0, background: '#ffffff', effort: 2 },
  createdAt: '2026-06-01T12:00:00.000Z',
});
const BASE = 'https://img.example/t?x=1&y=2';
const both = manifest(
  [size('thumb', 'webp', 120, 90, 900), size('thumb', 'avif', 120, 90, 800), size('large', 'webp', 480, 360, 9000), size('large', 'avif', 480, 360, 8000), size('medium', 'webp', 200, 150, 3000), size('medium', 'avif', 200, 150, 2500)],
  { thumbhash: 'IAgCBYBoZVuJh4iEiJiIcAAAAAAA', dominant: '#808080' },
);

test('sources in order of preference (AVIF before WebP), widths narrowest first; the img falls back to the format most browsers show', () => {
  const data = pictureData(toThumbnails(both, BASE))!;
  const url = (name: string, ext: string) => `${BASE}/${stem}.${name}.${ext}`;
  assert.equal(data.sources, [{ type: 'image/avif', srcset: `${url('thumb', 'avif')} 120w, ${url('medium', 'avif')} 200w, ${url('large', 'avif')} 480w` }]);
  assert.equal(data.img, { src: url('large', 'webp'), width: 480, height: 360, srcset: `${url('thumb', 'webp')} 120w, ${url('medium', 'webp')} 200w, ${url('large', 'webp')} 480w`, type: 'image/webp' });
  assert.is(data.sizes, '(max-width: 480px) 100vw, 480px');
  assert.match(data.placeholderStyle ?? '', /^background: #808080 url\("data:image\/png;base64,[A-Za-z0-9+/=]+"\) center \/ cover no-repeat$/);
});

test('JPEG beside WebP: WebP is the source, JPEG the img; only the sizes asked for; a given sizes attribute', () => {
  const withJpeg = manifest([size('thumb', 'webp', 120, 90, 900), size('thumb', 'jpeg', 120, 90, 1300), size('large', 'webp', 480, 360, 9000), size('large', 'jpeg', 480, 360, 12000)]);
  const data = pictureData(toThumbnails(withJpeg, BASE), { only: ['thumb'], sizes: '120px' })!;
  assert.equal(data.sources.map((s) => s.type), ['image/webp']);
  assert.is(data.img.type, 'image/jpeg');
  assert.is(data.img.width, 120);
  assert.not.match(data.img.srcset, /large/);
  assert.is(data.sizes, '120px');
  assert.is(data.placeholderStyle, undefined, 'no placeholder in the manifest, none in the markup');
});

test('two sizes that came out the same width (a small original) give one width descriptor, the lighter file', () => {
  const small = manifest([size('medium', 'webp', 150, 100, 2000), size('large', 'webp', 150, 100, 1900), size('thumb', 'webp', 120, 80, 900)]);
  assert.is(pictureData(toThumbnails(small, BASE))!.img.srcset, `${BASE}/${stem}.thumb.webp 120w, ${BASE}/${stem}.large.webp 150w`);
});

test('markup: attributes escaped, lazy by default, alt as given; nothing for an image without thumbnails', () => {
  const html = pictureHtml(toThumbnails(both, BASE), 'Kitchen "open plan" & garden <3');
  assert.ok(html.startsWith('<picture><source type="image/avif" srcset="https://img.example/t?x=1&amp;y=2/uk/88/0d/'), html);
  assert.match(html, /<img src="https:\/\/img\.example\/t\?x=1&amp;y=2\/[^"]+\.large\.webp" srcset="[^"]+" sizes="\(max-width: 480px\) 100vw, 480px" width="480" height="360" alt="Kitchen &quot;open plan&quot; &amp; garden &lt;3" loading="lazy" decoding="async" style="background: #808080 url\(&quot;data:image\/png;base64,/);
  assert.ok(html.endsWith('></picture>'));
  assert.not.match(pictureHtml(toThumbnails(both, BASE), '', { eager: true, noPlaceholder: true }), /loading=|style=/);
  assert.is(pictureHtml(toThumbnails(manifest([]), BASE), 'x'), '');
  assert.ok(pagePlaceholder(both.placeholder));
});

test.run();
