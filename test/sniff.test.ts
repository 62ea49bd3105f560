import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sniff } from '../engine/download/sniff.js';
import { makeSample } from '../scripts/sample-images.js';

test('real images are recognised by their bytes', async () => {
  for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
    const bytes = await makeSample({ width: 32, height: 24, format });
    assert.equal(sniff(bytes), { kind: 'image', format }, format);
  }
});

test('formats listing photos do not use are unsupported', () => {
  const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypheic'), Buffer.alloc(12)]);
  assert.equal(sniff(heic), { kind: 'unsupported', format: 'heif' });
  assert.equal(sniff(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"></svg>')), { kind: 'unsupported', format: 'svg' });
  assert.equal(sniff(Buffer.from('<?xml version="1.0"?>\n<svg></svg>')), { kind: 'unsupported', format: 'svg' });
  assert.equal(sniff(Buffer.from('%PDF-1.7')), { kind: 'unsupported', format: 'pdf' });
  assert.equal(sniff(Buffer.from([0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20, 0x0d, 0x0a, 0x87, 0x0a])), { kind: 'unsupported', format: 'jp2' });
});

test('non-images: empty, HTML, random bytes', () => {
  assert.equal(sniff(Buffer.alloc(0)), { kind: 'not_image', what: 'empty body' });
  assert.equal(sniff(Buffer.from('\n  <!DOCTYPE html><html>')), { kind: 'not_image', what: 'HTML' });
  assert.is(sniff(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])).kind, 'not_image');
});

test.run();
