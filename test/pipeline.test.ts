import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from 'thumbhash';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig } from '../engine/config/config.js';
import { decodeBox, makeThumbnails, dominantColour, shrinkToRgba } from '../workers/pipeline.js';
import type { ThumbnailResult, ThumbnailTask } from '../workers/thumbnail-task.js';
import { makeSample } from '../scripts/sample-images.js';
import { isRed, MARKER, MARKER_MIRRORED, regionMean } from './support/images.js';

const defaults = parseConfig({});
const task = (input: Buffer, overrides: Partial<ThumbnailTask> = {}): ThumbnailTask => ({
  input,
  sizes: defaults.thumbnails.sizes,
  formats: defaults.thumbnails.formats,
  process: defaults.thumbnails.process,
  maxPixels: defaults.thumbnails.maxPixels,
  ...overrides,
});

function ok(result: ThumbnailResult): Extract<ThumbnailResult, { ok: true }> {
  if (!result.ok) throw new Error(`expected success, got ${result.code}: ${result.message}`);
  return result;
}

test('decode box is the bounding box of every size', () => {
  assert.equal(decodeBox([{ name: 'a', width: 120, height: 90 }, { name: 'b', width: 100, height: 100 }]), { width: 120, height: 100 });
});

test('every size, fit inside, as WebP by default, with the source described', async () => {
  const result = ok(await makeThumbnails(task(await makeSample({ width: 1024, height: 683 }))));
  assert.equal(result.outputs.map((o) => [o.name, o.format, o.width, o.height]), [
    ['thumb', 'webp', 120, 80],
    ['medium', 'webp', 200, 133],
    ['large', 'webp', 480, 320],
  ]);
  assert.equal(result.source, { width: 1024, height: 683, format: 'jpeg', orientation: 1 });
  for (const output of result.outputs) {
    const meta = await sharp(output.data).metadata();
    assert.is(meta.format, 'webp');
    assert.is(meta.width, output.width);
    assert.ok(isRed(await regionMean(output.data, MARKER)), `${output.name} lost its marker`);
  }
});

test('all eight EXIF orientations come out upright, with no EXIF left', async () => {
  for (let orientation = 1; orientation <= 8; orientation++) {
    const input = await makeSample({ width: 600, height: 400, orientation, seed: orientation });
    const stored = await sharp(input).metadata();
    assert.is(stored.orientation ?? 1, orientation);
    const result = ok(await makeThumbnails(task(input)));
    const large = result.outputs.find((o) => o.name === 'large')!;
    assert.equal([large.width, large.height], [480, 320], `orientation ${orientation}`);
    assert.ok(isRed(await regionMean(large.data, MARKER)), `orientation ${orientation}: marker not top-left`);
    assert.not.ok(isRed(await regionMean(large.data, MARKER_MIRRORED)), `orientation ${orientation}: mirrored`);
    const meta = await sharp(large.data).metadata();
    assert.is(meta.exif, undefined, 'EXIF stripped');
    assert.is(meta.orientation, undefined);
    assert.equal(result.source, { width: 600, height: 400, format: 'jpeg', orientation });
  }
});

test('CMYK and wide-gamut inputs come out as sRGB with the right colours', async () => {
  const reference = await regionMean(await makeSample({ width: 640, height: 480, format: 'png' }), [0.5, 0.8, 0.7, 0.95]);
  const cmyk = await makeSample({ width: 640, height: 480, cmyk: true });
  assert.is((await sharp(cmyk).metadata()).space, 'cmyk');
  const p3 = await sharp(await makeSample({ width: 640, height: 480, format: 'png' })).withIccProfile('p3').png().toBuffer();
  assert.ok((await sharp(p3).metadata()).icc, 'the P3 sample carries its profile');
  for (const [label, input] of [['cmyk', cmyk], ['p3', p3]] as const) {
    const large = ok(await makeThumbnails(task(input))).outputs.find((o) => o.name === 'large')!;
    const meta = await sharp(large.data).metadata();
    assert.is(meta.space, 'srgb', label);
    assert.is(meta.icc, undefined, `${label}: no profile copied`);
    assert.ok(isRed(await regionMean(large.data, MARKER)), `${label}: marker not red`);
    const c = await regionMean(large.data, [0.5, 0.8, 0.7, 0.95]);
    for (const channel of ['r', 'g', 'b'] as const) {
      assert.ok(Math.abs(c[channel] - reference[channel]) < 25, `${label}: ${channel} ${c[channel].toFixed(0)} vs ${reference[channel].toFixed(0)}`);
    }
  }
});

test('never upscaled', async () => {
  const result = ok(await makeThumbnails(task(await makeSample({ width: 100, height: 80 }))));
  for (const o of result.outputs) assert.equal([o.width, o.height], [100, 80], o.name);
  const tiny = ok(await makeThumbnails(task(await makeSample({ width: 1, height: 1, format: 'png' }))));
  for (const o of tiny.outputs) assert.equal([o.width, o.height], [1, 1], o.name);
});

test('transparency is flattened onto the configured background', async () => {
  const input = await makeSample({ width: 400, height: 300, alpha: true, format: 'png' });
  const result = ok(await makeThumbnails(task(input, { formats: ['jpeg'], process: { ...defaults.thumbnails.process, background: '#00ff00' } })));
  const large = result.outputs.find((o) => o.name === 'large')!;
  assert.is((await sharp(large.data).metadata()).format, 'jpeg');
  const right = await regionMean(large.data, [0.85, 0.1, 0.95, 0.9]);
  assert.ok(right.g > 200 && right.r < 60 && right.b < 60, `transparent area is ${JSON.stringify(right)}`);
});

test('16-bit, palette, GIF, TIFF, WebP and AVIF inputs work', async () => {
  const base = await makeSample({ width: 300, height: 200, format: 'png' });
  const inputs: Array<[string, Buffer]> = [
    ['png16', await sharp(base).toColourspace('rgb16').png().toBuffer()],
    ['palette', await sharp(base).png({ palette: true, colours: 64 }).toBuffer()],
    ['gif', await makeSample({ width: 300, height: 200, format: 'gif' })],
    ['tiff', await makeSample({ width: 300, height: 200, format: 'tiff' })],
    ['webp', await makeSample({ width: 300, height: 200, format: 'webp' })],
    ['avif', await makeSample({ width: 300, height: 200, format: 'avif' })],
  ];
  for (const [label, input] of inputs) {
    const result = await makeThumbnails(task(input));
    assert.ok(result.ok, `${label}: ${result.ok ? '' : result.message}`);
    if (result.ok) assert.ok(isRed(await regionMean(result.outputs[2]!.data, MARKER)), `${label}: marker`);
  }
});

test('an animation is thumbnailed as its first frame', async () => {
  const [w, h] = [120, 90];
  const frame = (rgb: number[]): Buffer => Buffer.from(Array.from({ length: w * h * 3 }, (_, i) => rgb[i % 3]!));
  const stacked = Buffer.concat([frame([255, 0, 0]), frame([0, 255, 0]), frame([0, 0, 255])]);
  const raw = { width: w, height: h * 3, channels: 3 as const, pageHeight: h };
  const inputs: Array<[string, Buffer]> = [
    ['gif', await sharp(stacked, { raw }).gif({ delay: [100, 100, 100], loop: 0 }).toBuffer()],
    ['webp', await sharp(stacked, { raw }).webp({ delay: [100, 100, 100], loop: 0 }).toBuffer()],
  ];
  for (const [label, input] of inputs) {
    assert.is((await sharp(input).metadata()).pages, 3, `${label} has three frames`);
    const large = ok(await makeThumbnails(task(input))).outputs[2]!;
    assert.equal([large.width, large.height], [w, h], `${label}: one frame, not the strip of three`);
    const { channels } = await sharp(large.data).stats();
    assert.ok(channels[0]!.mean > 200 && channels[1]!.mean < 60 && channels[2]!.mean < 60, `${label}: the first (red) frame`);
  }
});

test('several formats: one file per size and format', async () => {
  const result = ok(await makeThumbnails(task(await makeSample({ width: 800, height: 600 }), { formats: ['webp', 'jpeg'] })));
  assert.equal(result.outputs.map((o) => `${o.name}.${o.format}`), ['thumb.webp', 'thumb.jpeg', 'medium.webp', 'medium.jpeg', 'large.webp', 'large.jpeg']);
});

test('a decompression bomb stops at the pixel limit', async () => {
  const result = await makeThumbnails(task(await makeSample({ width: 400, height: 300 }), { maxPixels: 100_000 }));
  assert.equal(result.ok ? 'ok' : result.code, 'pixel_limit');
});

test('truncated, non-image and blocked inputs fail with their code', async () => {
  const jpeg = await makeSample({ width: 800, height: 600 });
  const cases: Array<[string, Buffer, string]> = [
    ['truncated jpeg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'decode_failed'],
    ['svg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'), 'unsupported_format'],
    ['html', Buffer.from('<!DOCTYPE html><html><body>404</body></html>'), 'unsupported_format'],
    ['empty', Buffer.alloc(0), 'unsupported_format'],
  ];
  for (const [label, input, code] of cases) {
    const result = await makeThumbnails(task(input));
    assert.is(result.ok ? 'ok' : result.code, code, label);
  }
});

test('the placeholder: a ThumbHash that decodes to the picture, its aspect and colours, and its dominant colour', async () => {
  // mostly red, with a blue band on the right: the hash keeps the layout, the dominant colour is red
  const width = 600;
  const height = 300;
  const red = await sharp({ create: { width, height, channels: 3, background: '#d01010' } })
    .composite([{ input: { create: { width: 150, height, channels: 3, background: '#1030d0' } }, left: width - 150, top: 0 }])
    .jpeg({ quality: 90 })
    .toBuffer();
  const { placeholder } = ok(await makeThumbnails(task(red)));
  if (!placeholder) throw new Error('no placeholder made');
  assert.match(placeholder.dominant, /^#[0-9a-f]{6}$/);
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(placeholder.dominant.slice(i, i + 2), 16));
  assert.ok(r! > 150 && g! < 80 && b! < 80, `dominant ${placeholder.dominant} is the red`);
  const hash = Buffer.from(placeholder.thumbhash, 'base64');
  assert.ok(hash.length > 5 && hash.length <= 40, `a few bytes: ${hash.length}`);
  // ThumbHash keeps the aspect roughly (it is a few bytes): within 15%
  assert.ok(Math.abs(thumbHashToApproximateAspectRatio(hash) / (width / height) - 1) < 0.15, `aspect ${thumbHashToApproximateAspectRatio(hash)}`);
  const decoded = thumbHashToRGBA(hash);
  assert.ok(Math.abs(decoded.w / decoded.h / (width / height) - 1) < 0.15, `decoded ${decoded.w}x${decoded.h}`);
  const pixel = (x: number): number[] => {
    const at = (Math.floor(decoded.h / 2) * decoded.w + x) * 4;
    return [decoded.rgba[at]!, decoded.rgba[at + 1]!, decoded.rgba[at + 2]!];
  };
  const [lr, , lb] = pixel(Math.floor(decoded.w * 0.2));
  const [rr, , rb] = pixel(decoded.w - 2);
  assert.ok(lr! > lb!, `red on the left: ${pixel(Math.floor(decoded.w * 0.2)).join(',')}`);
  assert.ok(rb! > rr!, `blue on the right: ${pixel(decoded.w - 2).join(',')}`);
});

test('shrinkToRgba averages the pixels under each target pixel; dominantColour picks the fullest bin, not the mean', () => {
  // 4 x 2 RGB: left half black, right half white -> 2 x 1 at box 2
  const rgb = new Uint8Array([0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255]);
  const small = shrinkToRgba(rgb, { width: 4, height: 2, channels: 3 }, 2);
  assert.equal([small.width, small.height], [2, 1]);
  assert.equal([...small.rgba], [0, 0, 0, 255, 255, 255, 255, 255]);
  // grey (one channel) becomes grey RGB; never upscaled
  const grey = shrinkToRgba(new Uint8Array([10, 20, 30, 40]), { width: 2, height: 2, channels: 1 }, 100);
  assert.equal([grey.width, grey.height], [2, 2]);
  assert.equal([...grey.rgba.subarray(0, 8)], [10, 10, 10, 255, 20, 20, 20, 255]);
  // three grey-ish pixels and two red: grey wins, and it is their mean within the bin
  const pixels = new Uint8Array([128, 128, 128, 255, 130, 130, 130, 255, 132, 132, 132, 255, 250, 0, 0, 255, 250, 0, 0, 255]);
  assert.is(dominantColour(pixels), '#828282');
});

test.run();
