/**
 * The perceptual hash of a picture: a 64-bit dHash (each bit: is this cell darker than its right-hand
 * neighbour, on a 9 x 8 grid of mean luma). Near-copies (re-encoded, slightly resized) come out within
 * 2 bits of each other on the listing photos, crops of 1-2% within 6, different photos 12 or more
 * apart (bench/README.md). Made from the pipeline's decoded pixels (oriented, flattened, sRGB), so it
 * costs one pass over them. Pure.
 */

const COLUMNS = 9;
const ROWS = 8;

/** The dHash of raw pixels (1-4 channels), as 16 hex digits. */
export function dHash(pixels: Uint8Array, raw: { width: number; height: number; channels: number }): string {
  const sums = new Float64Array(COLUMNS * ROWS);
  const counts = new Uint32Array(COLUMNS * ROWS);
  const { width, height, channels } = raw;
  const colour = channels >= 3;
  for (let y = 0; y < height; y++) {
    const row = Math.min(ROWS - 1, Math.floor((y * ROWS) / height)) * COLUMNS;
    for (let x = 0; x < width; x++) {
      const cell = row + Math.min(COLUMNS - 1, Math.floor((x * COLUMNS) / width));
      const p = (y * width + x) * channels;
      sums[cell] = sums[cell]! + (colour ? 0.299 * pixels[p]! + 0.587 * pixels[p + 1]! + 0.114 * pixels[p + 2]! : pixels[p]!);
      counts[cell] = counts[cell]! + 1;
    }
  }
  const mean = (cell: number): number => sums[cell]! / Math.max(1, counts[cell]!);
  let hex = '';
  for (let y = 0; y < ROWS; y++) {
    let byte = 0;
    for (let x = 0; x < COLUMNS - 1; x++) byte = (byte << 1) | (mean(y * COLUMNS + x) < mean(y * COLUMNS + x + 1) ? 1 : 0);
    hex += byte.toString(16).padStart(2, '0');
  }
  return hex;
}

const BITS = [0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4];

/** Bits in which two hashes of the same length differ. */
export function hammingDistance(a: string, b: string): number {
  if (a.length !== b.length) throw new Error(`perceptual hashes of different lengths: ${a} and ${b}`);
  let distance = 0;
  for (let i = 0; i < a.length; i++) distance += BITS[parseInt(a[i]!, 16) ^ parseInt(b[i]!, 16)]!;
  return distance;
}
