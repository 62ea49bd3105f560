import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { referencesOf, scoreOf } from '../bench/lean/judge.js';
import { parseConfig } from '../engine/config/config.js';
import { makeThumbnails } from '../workers/pipeline.js';
import { AUTO_DEFAULTS, chooseQuality, EXTRA_CORRECTIONS, type AutoQuality } from '../workers/quality.js';
import type { ProcessDetails, ThumbnailResult } from '../workers/thumbnail-task.js';
import { makeSample, samplePixels } from '../scripts/sample-images.js';

/** A made-up encoder whose score follows quality as real ones roughly do: ln(1 - score) linear in quality. */
function curve(intercept: number, slope: number): { encodeAt: (q: number) => Promise<{ quality: number; score: number }>; asked: number[] } {
  const asked: number[] = [];
  return {
    asked,
    encodeAt: (quality) => {
      asked.push(quality);
      return Promise.resolve({ quality, score: 1 - Math.exp(intercept + slope * quality) });
    },
  };
}
/** The lowest integer quality whose score reaches the floor, on that curve. */
const lowestOn = (intercept: number, slope: number, floor: number): number => Math.ceil((Math.log(1 - floor) - intercept) / slope - 1e-9);

const auto = (overrides: Partial<AutoQuality> = {}): AutoQuality => ({ ...AUTO_DEFAULTS, ...overrides });

test('the search never chooses a quality below the floor, stays in range, and is bounded', async () => {
  for (const intercept of [-1.5, -2, -2.5]) {
    for (const slope of [-0.01, -0.016, -0.025]) {
      for (const start of [20, 45, 80]) {
        for (const tries of [1, 2, 3]) {
          const settings = auto({ tries, min: 25, max: 90 });
          const { encodeAt, asked } = curve(intercept, slope);
          const { chosen, encodes, reached } = await chooseQuality(settings, start, encodeAt);
          const label = `curve ${intercept}/${slope} from ${start}, ${tries} tries`;
          const needed = lowestOn(intercept, slope, settings.floor);
          assert.ok(asked.every((q) => q >= 25 && q <= 90 && Number.isInteger(q)), `${label}: asked ${asked.join(', ')}`);
          assert.is(encodes, asked.length);
          assert.ok(encodes <= tries + EXTRA_CORRECTIONS + 1, `${label}: ${encodes} encodes`);
          if (needed <= 90) {
            assert.ok(reached, `${label}: the floor is reachable at ${needed}`);
            assert.ok(chosen.score >= settings.floor, `${label}: chose ${chosen.quality}, score ${chosen.score}`);
            assert.ok(chosen.quality >= Math.max(25, needed), `${label}: ${chosen.quality} below the lowest that reaches the floor`);
          } else {
            assert.not.ok(reached, label);
            assert.is(chosen.quality, 90, `${label}: the range's top when nothing reaches the floor`);
          }
        }
      }
    }
  }
});

test('more tries land nearer the lowest quality that reaches the floor', async () => {
  let gapOne = 0;
  let gapThree = 0;
  for (const intercept of [-1.6, -1.9, -2.2, -2.5]) {
    for (const slope of [-0.012, -0.016, -0.02]) {
      const needed = lowestOn(intercept, slope, AUTO_DEFAULTS.floor);
      gapOne += (await chooseQuality(auto({ tries: 1 }), 45, curve(intercept, slope).encodeAt)).chosen.quality - needed;
      gapThree += (await chooseQuality(auto({ tries: 3 }), 45, curve(intercept, slope).encodeAt)).chosen.quality - needed;
    }
  }
  assert.ok(gapThree < gapOne, `overshoot summed: ${gapThree} with 3 tries, ${gapOne} with 1`);
  assert.ok(gapThree <= 12 * 3, `3 tries land within 3 steps on average (${gapThree / 12})`);
});

const config = parseConfig({ thumbnails: { process: { quality: 'auto' } } });
const details: ProcessDetails = config.thumbnails.process;
const sizes = config.thumbnails.sizes;

function ok(result: ThumbnailResult): Extract<ThumbnailResult, { ok: true }> {
  if (!result.ok) throw new Error(`${result.code}: ${result.message}`);
  return result;
}

/** A smooth picture (a gradient and soft shapes, no grain): little for an encoder to lose. */
async function smooth(width: number, height: number): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const d = Math.hypot(x - width / 2, y - height / 2) / width;
      pixels[i] = 60 + (120 * x) / width;
      pixels[i + 1] = 120 + 80 * Math.cos(d * 6);
      pixels[i + 2] = 200 - (100 * y) / height;
    }
  }
  return sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

/** Grainy and detailed, like a camera photo of a textured facade. */
async function grainy(width: number, height: number): Promise<Buffer> {
  const base = samplePixels(width, height, 7);
  return sharp(base, { raw: { width, height, channels: 3 } }).blur(0.6).jpeg({ quality: 92 }).toBuffer();
}

test('auto: every thumbnail it writes scores at or above the floor (scored from outside by ssim.js), in range, with quality and score recorded', async () => {
  const floor = 0.95;
  const inputs = [await smooth(900, 600), await grainy(800, 600), await makeSample({ width: 1024, height: 683, seed: 3 }), await makeSample({ width: 500, height: 700, seed: 4, format: 'png' })];
  for (const [n, input] of inputs.entries()) {
    const result = ok(await makeThumbnails({ input, sizes, formats: ['webp', 'jpeg'], process: details, maxPixels: 1e8 }));
    const references = await referencesOf(input, sizes, details);
    assert.is(result.outputs.length, sizes.length * 2);
    for (const output of result.outputs) {
      const label = `image ${n} ${output.name} ${output.format} q${output.quality}`;
      const outside = await scoreOf(references.get(output.name)!, output.data, false);
      assert.ok(outside.bezkrovny >= floor, `${label}: ssim.js scores it ${outside.bezkrovny}`);
      assert.ok(output.score !== undefined && Math.abs(output.score - outside.bezkrovny) < 1e-4, `${label}: recorded ${output.score}, measured ${outside.bezkrovny}`);
      assert.ok(output.quality >= AUTO_DEFAULTS.min && output.quality <= AUTO_DEFAULTS.max, label);
      const meta = await sharp(output.data).metadata();
      assert.is(meta.format, output.format === 'jpeg' ? 'jpeg' : 'webp');
      assert.equal([meta.width, meta.height], [output.width, output.height], label);
    }
  }
});

test('auto spends quality where the picture needs it: a smooth one gets a lower quality and fewer bytes than fixed q75', async () => {
  const fixed = { ...details, quality: 75 };
  const calm = await smooth(900, 600);
  const busy = await grainy(800, 600);
  const largeOf = async (input: Buffer, process: ProcessDetails) => ok(await makeThumbnails({ input, sizes, formats: ['webp'], process, maxPixels: 1e8 })).outputs.find((o) => o.name === 'large')!;
  const [calmAuto, busyAuto, calmFixed] = [await largeOf(calm, details), await largeOf(busy, details), await largeOf(calm, fixed)];
  assert.ok(calmAuto.quality < busyAuto.quality, `smooth q${calmAuto.quality}, grainy q${busyAuto.quality}`);
  assert.ok(calmAuto.data.byteLength < calmFixed.data.byteLength, `${calmAuto.data.byteLength} bytes against ${calmFixed.data.byteLength} at q75`);
  assert.is(calmFixed.quality, 75);
  assert.is(calmFixed.score, undefined, 'no score where none was measured');
});

test('auto respects its range: a floor out of reach gives the top of the range, a floor met at once the bottom', async () => {
  const input = await grainy(800, 600);
  const high = ok(await makeThumbnails({ input, sizes, formats: ['webp'], process: { ...details, quality: auto({ floor: 0.999, min: 30, max: 60 }) }, maxPixels: 1e8 }));
  for (const output of high.outputs) {
    assert.is(output.quality, 60, `${output.name}: the floor 0.999 is out of reach below q60`);
    assert.ok(output.score! < 0.999);
  }
  const low = ok(await makeThumbnails({ input, sizes, formats: ['webp'], process: { ...details, quality: auto({ floor: 0.5, min: 30, max: 60 }) }, maxPixels: 1e8 }));
  // the smallest size starts at the bottom; a larger one starts 3 above what it needed, and a step down of less than 4 is not worth an encode
  assert.is(low.outputs.find((o) => o.name === 'thumb')!.quality, 30);
  for (const output of low.outputs) assert.ok(output.quality <= 33, `${output.name}: any quality reaches 0.5, chose ${output.quality}`);
});

test.run();
