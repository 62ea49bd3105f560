/**
 * The perceptual score of a thumbnail against what it was encoded from: ssim.js's Bezkrovny SSIM
 * (ssim.js 3.5, `{ ssim: 'bezkrovny' }`: luma by ssim.js's integer formula, the mean SSIM of 11 x 11
 * windows side by side), computed here straight from sharp's raw buffers. The same figure as the
 * library's (test/score.test.ts compares them to 1e-12); the library itself wants RGBA copies and
 * boxes every pixel in arrays, which made it 4x slower, and the score is on the hot path of auto
 * quality. Its correlation with ssim.js's default (Weber, sliding windows) was 0.988 on 30 listing
 * photos, at a seventh of the cost. Pure.
 */

/** ssim.js's defaults: window side, and the stabilising constants for 8-bit samples. */
const WINDOW = 11;
const C1 = (0.01 * 255) ** 2;
const C2 = (0.03 * 255) ** 2;

export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  /** 1 (grey), 3 (RGB) or 4 (RGBA: alpha is ignored). */
  channels: number;
}

/** Luma of each pixel, as ssim.js's `rgb2grayInteger` makes it (grey images as they are). */
function luma(image: RawImage): Uint8Array {
  const { data, width, height, channels } = image;
  const out = new Uint8Array(width * height);
  if (channels < 3) {
    for (let i = 0, p = 0; i < out.length; i++, p += channels) out[i] = data[p]!;
    return out;
  }
  for (let i = 0, p = 0; i < out.length; i++, p += channels) out[i] = (77 * data[p]! + 150 * data[p + 1]! + 29 * data[p + 2]! + 128) >> 8;
  return out;
}

/** The mean SSIM of `candidate` against `reference` (same width and height), 1 for identical images. */
export function ssimScore(reference: RawImage, candidate: RawImage): number {
  const { width, height } = reference;
  if (candidate.width !== width || candidate.height !== height) {
    throw new Error(`the images to compare differ in size: ${width}x${height} and ${candidate.width}x${candidate.height}`);
  }
  const a = luma(reference);
  const b = luma(candidate);
  let sum = 0;
  let windows = 0;
  for (let y = 0; y < height; y += WINDOW) {
    const rows = Math.min(WINDOW, height - y);
    for (let x = 0; x < width; x += WINDOW) {
      const cols = Math.min(WINDOW, width - x);
      const n = rows * cols;
      let sumA = 0;
      let sumB = 0;
      for (let j = 0; j < rows; j++) {
        const row = (y + j) * width + x;
        for (let i = 0; i < cols; i++) {
          sumA += a[row + i]!;
          sumB += b[row + i]!;
        }
      }
      const meanA = sumA / n;
      const meanB = sumB / n;
      let varA = 0;
      let varB = 0;
      let cov = 0;
      for (let j = 0; j < rows; j++) {
        const row = (y + j) * width + x;
        for (let i = 0; i < cols; i++) {
          const da = a[row + i]! - meanA;
          const db = b[row + i]! - meanB;
          varA += da * da;
          varB += db * db;
          cov += da * db;
        }
      }
      varA /= n;
      varB /= n;
      cov /= n;
      sum += ((2 * meanA * meanB + C1) * (2 * cov + C2)) / ((meanA * meanA + meanB * meanB + C1) * (varA + varB + C2));
      windows++;
    }
  }
  return sum / windows;
}
