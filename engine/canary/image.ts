/**
 * A canary's picture: a PNG made from its id alone, so that any ImageSys daemon serves the same bytes
 * for the same id, and each canary is a picture the tree has never seen. Soft colour fields and a
 * little grain, so that it resizes and encodes like a photo, not like a flat test card. Pure.
 */
import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';

/** Larger than the default sizes' largest box (480x360), so every size is made by scaling down. */
export const CANARY_WIDTH = 640;
export const CANARY_HEIGHT = 480;

/** A canary's id: 16 hex digits. */
export const CANARY_ID = /^[0-9a-f]{16}$/;

/** A small deterministic generator (xorshift32) seeded from the id's digest. */
function generator(id: string): () => number {
  let state = createHash('sha256').update(id).digest().readUInt32LE(0) || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** The PNG of canary `id` (8-bit RGB). */
export function canaryImage(id: string): Buffer {
  if (!CANARY_ID.test(id)) throw new Error(`not a canary id: ${JSON.stringify(id)}`);
  const random = generator(id);
  // four colour blobs, each a centre, a colour and a reach
  const blobs = Array.from({ length: 4 }, () => ({ x: random() * CANARY_WIDTH, y: random() * CANARY_HEIGHT, rgb: [random(), random(), random()].map((c) => 40 + c * 200), reach: 120 + random() * 200 }));
  // each blob's weight exp(-(dx² + dy²) / reach²) is a product of a row factor and a column factor:
  // computed once per row and column, a picture costs a few ms of the event loop, not tens
  const across = blobs.map((b) => Float64Array.from({ length: CANARY_WIDTH }, (_, x) => Math.exp(-((x - b.x) ** 2) / (b.reach * b.reach))));
  const down = blobs.map((b) => Float64Array.from({ length: CANARY_HEIGHT }, (_, y) => Math.exp(-((y - b.y) ** 2) / (b.reach * b.reach))));
  const rowBytes = 1 + CANARY_WIDTH * 3;
  const raw = Buffer.alloc(rowBytes * CANARY_HEIGHT);
  for (let y = 0; y < CANARY_HEIGHT; y++) {
    raw[y * rowBytes] = 0; // filter: none
    for (let x = 0; x < CANARY_WIDTH; x++) {
      let r = 110;
      let g = 110;
      let bl = 110;
      let weight = 1;
      for (let i = 0; i < blobs.length; i++) {
        const w = across[i]![x]! * down[i]![y]! * 2;
        const rgb = blobs[i]!.rgb;
        r += rgb[0]! * w;
        g += rgb[1]! * w;
        bl += rgb[2]! * w;
        weight += w;
      }
      const grain = (random() - 0.5) * 8;
      const at = y * rowBytes + 1 + x * 3;
      raw[at] = Math.max(0, Math.min(255, Math.round(r / weight + grain)));
      raw[at + 1] = Math.max(0, Math.min(255, Math.round(g / weight + grain)));
      raw[at + 2] = Math.max(0, Math.min(255, Math.round(bl / weight + grain)));
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(CANARY_WIDTH, 0);
  header.writeUInt32BE(CANARY_HEIGHT, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, standard filters, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(raw, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}
