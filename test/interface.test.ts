import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl, thumbnailsForHash, thumbnailsForUrl, thumbnailsForUrls } from '../engine/interface.js';
import { manifestPath, type Manifest } from '../engine/tree/tree.js';
import { tempDir } from './support/temp.js';

async function writeManifest(tree: string, url: string, extra: Partial<Manifest> = {}): Promise<Manifest> {
  const hash = hashForUrl(url);
  const stem = `uk/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
  const manifest: Manifest = {
    version: 1,
    url,
    hash,
    country: 'uk',
    sizes: [
      { name: 'thumb', format: 'webp', width: 120, height: 80, bytes: 900, path: `${stem}.thumb.webp`, quality: 75 },
      { name: 'large', format: 'webp', width: 480, height: 320, bytes: 9000, path: `${stem}.large.webp`, quality: 75 },
    ],
    source: { width: 720, height: 480, format: 'jpeg', bytes: 50_000 },
    digest: 'sha256:00',
    processing: { quality: 75, sharpen: 0, gamma: 0, background: '#ffffff', effort: 2 },
    createdAt: '2026-11-28T12:00:00.000Z',
    ...extra,
  };
  await mkdir(join(tree, 'uk', hash.slice(0, 2), hash.slice(2, 4)), { recursive: true });
  await writeFile(manifestPath(tree, 'uk', hash), JSON.stringify(manifest));
  return manifest;
}

test('thumbnails with public URLs from the base URL, by hash, by URL and in batches', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const location = { tree: dir, baseUrl: 'https://img.example.com/thumbs/' };
    const url = 'http://example.com/a.jpg';
    const manifest = await writeManifest(dir, url);
    const byUrl = await thumbnailsForUrl(location, 'uk', ` HTTP://EXAMPLE.com/a.jpg#x`);
    assert.ok(byUrl);
    assert.is(byUrl.hash, manifest.hash);
    assert.is(byUrl.sizes[0]!.url, `https://img.example.com/thumbs/${manifest.sizes[0]!.path}`);
    assert.is(byUrl.bySize.large!.webp!.width, 480);
    assert.equal(await thumbnailsForHash(location, 'uk', manifest.hash), byUrl);
    assert.is(await thumbnailsForUrl(location, 'uk', 'http://example.com/none.jpg'), undefined);
    assert.is(await thumbnailsForUrl(location, 'de', url), undefined, 'per country');
    const batch = await thumbnailsForUrls(location, 'uk', [url, 'http://example.com/none.jpg', 'not a url', url]);
    assert.equal(batch.map((t) => t?.hash), [manifest.hash, undefined, undefined, manifest.hash]);
  } finally {
    await cleanup();
  }
});

test('a placeholder comes with a data URL ready for the page; none when the manifest has none or it is damaged', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const location = { tree: dir, baseUrl: 'https://img.example.com/thumbs' };
    // a real ThumbHash of a 3:2 picture, made as the pipeline makes it
    const width = 90;
    const height = 60;
    const pixels = await sharp({ create: { width, height, channels: 4, background: '#2060c0' } }).raw().toBuffer();
    const thumbhash = Buffer.from(rgbaToThumbHash(width, height, pixels)).toString('base64');
    const url = 'http://example.com/with-placeholder.jpg';
    const manifest = await writeManifest(dir, url, { placeholder: { thumbhash, dominant: '#2060c0' } });
    const found = await thumbnailsForUrl(location, 'uk', url);
    assert.ok(found?.placeholder);
    assert.is(found.placeholder.thumbhash, thumbhash);
    assert.is(found.placeholder.dominant, '#2060c0');
    const prefix = 'data:image/png;base64,';
    assert.ok(found.placeholder.dataUrl.startsWith(prefix), found.placeholder.dataUrl.slice(0, 40));
    const png = await sharp(Buffer.from(found.placeholder.dataUrl.slice(prefix.length), 'base64')).raw().toBuffer({ resolveWithObject: true });
    assert.ok(Math.abs(png.info.width / png.info.height / 1.5 - 1) < 0.15, `a picture of the image's shape: ${png.info.width}x${png.info.height}`);
    assert.ok(png.data[2]! > png.data[0]!, 'and its colour (blue over red)');
    assert.is(manifest.hash, found.hash);

    await writeManifest(dir, 'http://example.com/old.jpg');
    assert.is((await thumbnailsForUrl(location, 'uk', 'http://example.com/old.jpg'))?.placeholder, undefined, 'a manifest from before placeholders');
    await writeManifest(dir, 'http://example.com/damaged.jpg', { placeholder: { thumbhash: '', dominant: '#000000' } });
    const damaged = await thumbnailsForUrl(location, 'uk', 'http://example.com/damaged.jpg');
    assert.ok(damaged, 'the thumbnails are still given');
    assert.is(damaged.placeholder, undefined);
  } finally {
    await cleanup();
  }
});

test.run();
