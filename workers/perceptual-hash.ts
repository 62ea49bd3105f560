/**
 * The perceptual hash of a picture: a 64-bit dHash (each bit: is this cell darker than its right-hand
 * neighbour, on a 9 x 8 grid of mean luma). Near-copies (re-encoded, slightly resized) come out within
 * 3 bits of each other on the listing photos, crops of 1-2% within 8, different photos more than 12
 * apart (bench/README.md). Made from the small copy of the decoded pixels that the placeholder is made
 * from (workers/pipeline.ts), so it costs a pass over some 7,500 pixels. Pure.
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

/** Bits set in a 32-bit number. */
export function bitsSet(n: number): number {
  let v = n - ((n >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Bits in which two 64-bit hashes differ, each given as its two 32-bit halves. */
export function distanceOfHalves(aHigh: number, aLow: number, bHigh: number, bLow: number): number {
  return bitsSet((aHigh ^ bHigh) >>> 0) + bitsSet((aLow ^ bLow) >>> 0);
}

/** The two 32-bit halves of a hash in hex (text that is not hex gives NaN, which bit operations read as 0). */
export function halvesOf(hex: string): [number, number] {
  return [parseInt(hex.slice(0, 8), 16), parseInt(hex.slice(8, 16), 16)];
}

/** Bits in which two 64-bit hashes (16 hex digits) differ. */
export function hammingDistance(a: string, b: string): number {
  if (a.length !== b.length) throw new Error(`perceptual hashes of different lengths: ${a} and ${b}`);
  return distanceOfHalves(...halvesOf(a), ...halvesOf(b));
}
