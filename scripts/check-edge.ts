/**
 * `npm run check:edge -- DIR` (e.g. ../shared/fixtures/edge): every file through what a download of it
 * would meet (magic-byte sniffing, then the sharp pipeline with the default config), against the
 * outcome it must have. Prints a table and a summary; exits 1 on any wrong outcome, or on a file
 * without an expected outcome (a new fixture needs one).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_CONFIG } from '../engine/config/config.js';
import { sniff } from '../engine/download/sniff.js';
import { makeThumbnails } from '../workers/pipeline.js';
import type { ThumbnailOutput } from '../workers/thumbnail-task.js';

/** What a file must come to: thumbnails (checked by `check`), or a failure with this code. */
type Expected = { ok: (large: ThumbnailOutput, file: Buffer) => Promise<string | undefined> } | { code: string };

const upright = (width: number, height: number) => (large: ThumbnailOutput) =>
  Promise.resolve(large.width === width && large.height === height ? undefined : `large is ${large.width}x${large.height}, expected ${width}x${height} (upright)`);

/** Opaque output; colours within `tolerance` of sharp's own sRGB rendering of the file (not inverted, profile applied). */
const colours = (tolerance = 12) => async (large: ThumbnailOutput, file: Buffer): Promise<string | undefined> => {
  const meta = await sharp(large.data).metadata();
  if (meta.hasAlpha) return 'the thumbnail kept an alpha channel';
  if (meta.space !== 'srgb') return `the thumbnail is ${meta.space}, not sRGB`;
  const ours = await sharp(large.data).stats();
  // sharp's own rendering of the first page, colour-managed to 8-bit sRGB on white, as a fresh image
  const rendered = await sharp(file, { pages: 1, limitInputPixels: false }).autoOrient().flatten({ background: '#ffffff' }).toColourspace('srgb').jpeg({ quality: 95 }).toBuffer();
  const reference = await sharp(rendered).stats();
  const diffs = [0, 1, 2].map((c) => Math.abs((ours.channels[c]?.mean ?? 0) - (reference.channels[Math.min(c, reference.channels.length - 1)]?.mean ?? 0)));
  const worst = Math.max(...diffs);
  return worst <= tolerance ? undefined : `mean colour differs from the sRGB reference by ${worst.toFixed(0)} (tolerance ${tolerance})`;
};

const size = (width: number, height: number) => async (large: ThumbnailOutput, file: Buffer) =>
  (await upright(width, height)(large)) ?? (await colours()(large, file));

/** Expected outcomes by file name; patterns for the numbered EXIF samples. */
function expectedFor(name: string): Expected | undefined {
  if (/^Landscape_[1-8]\.jpg$/.test(name)) return { ok: size(480, 360) };
  if (/^Portrait_[1-8]\.jpg$/.test(name)) return { ok: size(270, 360) };
  return TABLE[name];
}

const TABLE: Record<string, Expected> = {
  'animated-loop3.gif': { ok: upright(370, 285) }, // first frame, not the 10-frame strip
  'animated-tall-97frames.webp': { ok: upright(13, 169) }, // first frame, never upscaled
  'animated.gif': { ok: size(80, 80) },
  'animated.webp': { ok: size(80, 80) },
  'avif-primary-item.avif': { ok: colours() },
  'check.svg': { code: 'unsupported_format' },
  'cmyk-no-profile.jpg': { ok: size(480, 320) },
  'cmyk-swop-profile.jpg': { ok: size(480, 320) },
  'corrupt-header.jpg': { code: 'decode_failed' },
  'gain-map-uhdr-3840x2160.jpg': { ok: size(480, 270) },
  'giant-20000x14000.jpg': { code: 'pixel_limit' },
  'giant-65536x65536.png': { code: 'pixel_limit' },
  'grayscale.jpg': { ok: size(400, 267) }, // smaller than the box: never upscaled
  'html-page.jpg': { code: 'not_image' },
  'icc-adobe-rgb.jpg': { ok: size(480, 320) },
  'large-photo-2725x2225.jpg': { ok: size(441, 360) },
  'lossless-sof3.jpg': { ok: upright(227, 149) },
  'photo-lossy.webp': { ok: size(478, 360) },
  'photo.avif': { ok: size(480, 320) },
  'photo.heic': { code: 'unsupported_format' },
  'photo.jp2': { code: 'unsupported_format' },
  'png-alpha.png': { ok: size(480, 360) },
  'png-display-p3.png': { ok: upright(8, 8) },
  'png-fully-transparent.png': { ok: size(300, 300) }, // all white: flattened onto the background
  'png-named-as.jpg': { ok: size(256, 192) },
  'png-palette.png': { ok: size(68, 68) },
  'png16-rgb.png': { ok: size(480, 320) },
  'png16-rgba-trns.png': { ok: size(32, 32) },
  'progressive.jpg': { ok: size(480, 320) },
  'random-bytes.jpg': { code: 'not_image' },
  'svg-embedded-images.svg': { code: 'unsupported_format' },
  'svg-tiny-viewbox.svg': { code: 'unsupported_format' },
  'tiff-16bit-adobe-rgb.tiff': { ok: size(317, 211) },
  'tiff-multipage-g3fax.tif': { ok: upright(273, 360) }, // first page
  'tiff-uncompressed.tiff': { ok: size(246, 345) },
  'tiny-1x1-prophoto.png': { ok: upright(1, 1) },
  'tiny-1x1.jpg': { ok: upright(1, 1) },
  'tiny-2x1-grey-alpha.gif': { ok: upright(2, 1) },
  'truncated.jpg': { code: 'decode_failed' },
  'truncated.png': { code: 'decode_failed' },
  'webp-alpha.webp': { ok: size(300, 300) },
  'zero-bytes.jpg': { code: 'empty_body' },
};

const KNOWN = [...Object.keys(TABLE), ...[1, 2, 3, 4, 5, 6, 7, 8].flatMap((n) => [`Landscape_${n}.jpg`, `Portrait_${n}.jpg`])];

/** What ImageSys does with these bytes: the download stage's sniffing, then the pipeline. */
async function outcomeOf(bytes: Buffer): Promise<{ code: string; message: string } | { large: ThumbnailOutput }> {
  const sniffed = sniff(bytes);
  if (sniffed.kind === 'not_image') return { code: bytes.length === 0 ? 'empty_body' : 'not_image', message: sniffed.what };
  if (sniffed.kind === 'unsupported') return { code: 'unsupported_format', message: sniffed.format };
  const { sizes, formats, process, maxPixels } = DEFAULT_CONFIG.thumbnails;
  const result = await makeThumbnails({ input: bytes, sizes, formats, process, maxPixels });
  if (!result.ok) return { code: result.code, message: result.message };
  return { large: result.outputs.find((o) => o.name === 'large') ?? result.outputs[result.outputs.length - 1]! };
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: npm run check:edge -- DIR   (e.g. ../shared/fixtures/edge)');
  process.exit(2);
}
const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
let wrong = 0;
// a corpus without the files this table knows is not the corpus it was written for
const missing = KNOWN.filter((name) => !names.includes(name));
for (const name of missing) console.log(`${name.padEnd(30)} MISSING from ${dir}`);
wrong += missing.length;
console.log(`${'file'.padEnd(30)} ${'expected'.padEnd(20)} got`);
for (const name of names) {
  const bytes = await readFile(join(dir, name));
  const expected = expectedFor(name);
  const got = await outcomeOf(bytes);
  const gotText = 'large' in got ? `ok, large ${got.large.width}x${got.large.height}` : `${got.code} (${got.message.slice(0, 60)})`;
  let verdict: string;
  if (!expected) verdict = 'NO EXPECTATION';
  else if ('code' in expected) verdict = 'code' in got && got.code === expected.code ? 'ok' : 'WRONG';
  else if (!('large' in got)) verdict = 'WRONG';
  else verdict = (await expected.ok(got.large, bytes)) ?? 'ok';
  if (verdict !== 'ok') wrong++;
  const expectedText = !expected ? '-' : 'code' in expected ? expected.code : 'thumbnails';
  console.log(`${name.padEnd(30)} ${expectedText.padEnd(20)} ${gotText}${verdict === 'ok' ? '' : `   <- ${verdict}`}`);
}
const total = names.length + missing.length;
console.log(`check:edge: ${total - wrong} of ${total} files had the right outcome${wrong ? `, ${wrong} wrong or missing` : ''}`);
process.exitCode = wrong > 0 ? 1 : 0;
