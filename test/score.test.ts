import sharp, { type Sharp } from 'sharp';
import { ssim } from 'ssim.js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ssimScore, type RawImage } from '../workers/score.js';
import { makeSample } from '../scripts/sample-images.js';

async function raw(image: Sharp): Promise<RawImage> {
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

function asImageData(image: RawImage): { data: Uint8ClampedArray; width: number; height: number } {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let i = 0; i < image.width * image.height; i++) {
    const p = i * image.channels;
    rgba[i * 4] = image.data[p]!;
    rgba[i * 4 + 1] = image.data[image.channels >= 3 ? p + 1 : p]!;
    rgba[i * 4 + 2] = image.data[image.channels >= 3 ? p + 2 : p]!;
    rgba[i * 4 + 3] = 255;
  }
  return { data: rgba, width: image.width, height: image.height };
}

test('the score is ssim.js\'s Bezkrovny SSIM, to 1e-12, on photo-like images at several qualities and odd sizes', async () => {
  for (const [width, height, quality] of [[480, 320, 30], [200, 133, 60], [121, 91, 90], [37, 500, 50]] as const) {
    const reference = await raw(sharp(await makeSample({ width, height, seed: width })));
    const candidate = await raw(sharp(await sharp(reference.data, { raw: { width, height, channels: 3 } }).webp({ quality }).toBuffer()));
    const ours = ssimScore(reference, candidate);
    const library = ssim(asImageData(reference), asImageData(candidate), { ssim: 'bezkrovny' }).mssim;
    assert.ok(Math.abs(ours - library) < 1e-12, `${width}x${height} q${quality}: ${ours} against ssim.js ${library}`);
    assert.ok(ours > 0.5 && ours < 1, `${ours} is a score of a lossy copy`);
  }
});

test('an image scores 1 against itself; a worse copy scores lower than a better one', async () => {
  const reference = await raw(sharp(await makeSample({ width: 300, height: 200 })));
  assert.is(ssimScore(reference, reference), 1);
  const at = async (quality: number) => ssimScore(reference, await raw(sharp(await sharp(reference.data, { raw: { width: 300, height: 200, channels: 3 } }).jpeg({ quality }).toBuffer())));
  assert.ok((await at(20)) < (await at(80)));
});

test('grey and RGBA buffers are read by their channel count; images of different sizes are refused', async () => {
  const rgb = await raw(sharp(await makeSample({ width: 64, height: 48 })));
  const grey = await raw(sharp(rgb.data, { raw: { width: 64, height: 48, channels: 3 } }).greyscale());
  assert.is(grey.channels, 1);
  const rgba = await raw(sharp(rgb.data, { raw: { width: 64, height: 48, channels: 3 } }).ensureAlpha());
  assert.is(ssimScore(rgb, rgba), 1, 'alpha is not compared');
  const library = ssim(asImageData(grey), asImageData(rgb), { ssim: 'bezkrovny' }).mssim;
  assert.ok(Math.abs(ssimScore(grey, rgb) - library) < 1e-12);
  assert.throws(() => ssimScore(rgb, { ...grey, width: 48, height: 64 }), /differ in size: 64x48 and 48x64/);
});

test.run();
