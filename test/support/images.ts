import sharp from 'sharp';

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** Mean colour of a region given in fractions of the image (x0, y0, x1, y1). */
export async function regionMean(bytes: Uint8Array, region: [number, number, number, number]): Promise<Rgb> {
  const { data, info } = await sharp(bytes).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const [fx0, fy0, fx1, fy1] = region;
  const x0 = Math.floor(fx0 * info.width);
  const x1 = Math.max(x0 + 1, Math.floor(fx1 * info.width));
  const y0 = Math.floor(fy0 * info.height);
  const y1 = Math.max(y0 + 1, Math.floor(fy1 * info.height));
  let r = 0;
  let g = 0;
  let b = 0;
  let n = 0;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * info.width + x) * info.channels;
      r += data[i]!;
      g += data[i + 1]!;
      b += data[i + 2]!;
      n++;
    }
  }
  return { r: r / n, g: g / n, b: b / n };
}

/** The sample images' marker: a red block inside the top-left quarter. */
export const MARKER: [number, number, number, number] = [0.12, 0.12, 0.35, 0.35];
export const MARKER_MIRRORED: [number, number, number, number] = [0.65, 0.12, 0.88, 0.35];

export function isRed(c: Rgb): boolean {
  return c.r > 170 && c.g < 90 && c.b < 90;
}
