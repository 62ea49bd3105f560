/**
 * A contact sheet: thumbnails, each beside the reference it was scored against, labelled, one pair per
 * row, as a PNG a person looks at (SSIM is a proxy: what it ranks lowest is what to look at first).
 */
import sharp from 'sharp';
import type { RawImage } from '../../workers/score.js';

export interface SheetEntry {
  label: string;
  reference: RawImage;
  thumbnail: Uint8Array;
}

const GAP = 8;
const LABEL_HEIGHT = 22;

async function labelOf(text: string, width: number): Promise<Buffer> {
  // sharp's text input is libvips' text operation (Pango), not a loader: the pipeline's loader block leaves it usable
  const rendered = await sharp({ text: { text: text.replace(/[<>&]/g, ' '), font: 'sans 11', width, rgba: true } }).png().toBuffer();
  return rendered;
}

/** Writes the sheet to `path`; rows as wide as the widest pair. */
export async function writeSheet(path: string, title: string, entries: readonly SheetEntry[]): Promise<void> {
  const rows: Array<{ input: Buffer; top: number; left: number }> = [];
  const cellWidth = Math.max(1, ...entries.map((e) => e.reference.width));
  let top = GAP;
  rows.push({ input: await labelOf(title, cellWidth * 2 + GAP), top, left: GAP });
  top += LABEL_HEIGHT;
  for (const entry of entries) {
    rows.push({ input: await labelOf(entry.label, cellWidth * 2 + GAP), top, left: GAP });
    top += LABEL_HEIGHT;
    const { data, width, height, channels } = entry.reference;
    rows.push({ input: await sharp(data, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } }).png().toBuffer(), top, left: GAP });
    rows.push({ input: await sharp(entry.thumbnail).png().toBuffer(), top, left: GAP * 2 + cellWidth });
    top += height + GAP;
  }
  await sharp({ create: { width: cellWidth * 2 + GAP * 3, height: top, channels: 3, background: '#ffffff' } })
    .composite(rows)
    .png()
    .toFile(path);
}
