/**
 * The mixed 200-URL scenario used by the end-to-end, two-engine and crash tests: a real HTTP server
 * with good photos, 404s, 500-then-200s, slow answers, truncated bodies, HTML pages, EXIF-rotated and
 * CMYK JPEGs, and what each URL must end as.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../../engine/core/hash.js';
import type { Manifest } from '../../engine/tree/tree.js';
import { manifestPath } from '../../engine/tree/tree.js';
import { makeSample } from '../../scripts/sample-images.js';
import { startSourceServer, type Route, type SourceServer } from '../../scripts/source-server.js';
import { isRed, MARKER, regionMean } from './images.js';

export type Kind = 'good' | 'missing' | 'flaky' | 'slow' | 'truncated' | 'html' | 'rotated' | 'cmyk';

export interface Expectation {
  kind: Kind;
  path: string;
  url: string;
  hash: string;
  /** Where the job must end, and with which code if it failed. */
  end: 'thumbed' | 'failed';
  code?: string;
  /** Requests the server must have seen for this URL. */
  hits: number;
  /** Upright dimensions of the source. */
  width: number;
  height: number;
}

export const MIX: Record<Kind, number> = { good: 120, missing: 15, flaky: 15, slow: 10, truncated: 10, html: 10, rotated: 10, cmyk: 10 };

export interface Scenario {
  server: SourceServer;
  expectations: Expectation[];
}

/** `maxAttempts` must match the config's retry.maxAttempts: truncated bodies are retried that often. */
export async function startScenario(options: { scale?: number; maxAttempts: number; kinds?: Partial<Record<Kind, number>> }): Promise<Scenario> {
  const mix = { ...MIX, ...options.kinds };
  const photos = await Promise.all([[720, 480], [1024, 683], [623, 414], [480, 640], [900, 600], [345, 240]].map(async ([width, height], i) => ({ width: width!, height: height!, bytes: await makeSample({ width: width!, height: height!, seed: 10 + i }) })));
  const rotated = await Promise.all([6, 8, 3, 5].map(async (orientation) => ({ orientation, bytes: await makeSample({ width: 800, height: 600, orientation, seed: orientation }) })));
  const cmyk = await makeSample({ width: 640, height: 480, cmyk: true, seed: 21 });
  const routes = new Map<string, Route>();
  const expectations: Expectation[] = [];
  const server = await startSourceServer(routes);
  const add = (kind: Kind, i: number, route: Route, expect: Omit<Expectation, 'kind' | 'path' | 'url' | 'hash'>): void => {
    const path = `/${kind}/${i}.jpg`;
    routes.set(path, route);
    const url = server.url(path);
    expectations.push({ kind, path, url, hash: hashForUrl(url), ...expect });
  };
  for (const [kind, count] of Object.entries(mix) as Array<[Kind, number]>) {
    for (let i = 0; i < count; i++) {
      const photo = photos[i % photos.length]!;
      switch (kind) {
        case 'good':
          add(kind, i, { kind: 'image', bytes: photo.bytes }, { end: 'thumbed', hits: 1, width: photo.width, height: photo.height });
          break;
        case 'missing':
          add(kind, i, { kind: 'status', status: 404 }, { end: 'failed', code: 'http_not_found', hits: 1, width: 0, height: 0 });
          break;
        case 'flaky':
          add(kind, i, { kind: 'flaky', failures: 1, status: 500, bytes: photo.bytes }, { end: 'thumbed', hits: 2, width: photo.width, height: photo.height });
          break;
        case 'slow':
          add(kind, i, { kind: 'slow', delayMs: 400, bytes: photo.bytes }, { end: 'thumbed', hits: 1, width: photo.width, height: photo.height });
          break;
        case 'truncated':
          add(kind, i, { kind: 'truncated', bytes: photo.bytes, sendBytes: Math.floor(photo.bytes.length / 2) }, { end: 'failed', code: 'body_incomplete', hits: options.maxAttempts, width: 0, height: 0 });
          break;
        case 'html':
          add(kind, i, { kind: 'html' }, { end: 'failed', code: 'not_image', hits: 1, width: 0, height: 0 });
          break;
        case 'rotated': {
          const r = rotated[i % rotated.length]!;
          add(kind, i, { kind: 'image', bytes: r.bytes }, { end: 'thumbed', hits: 1, width: 800, height: 600 });
          break;
        }
        case 'cmyk':
          add(kind, i, { kind: 'image', bytes: cmyk }, { end: 'thumbed', hits: 1, width: 640, height: 480 });
          break;
      }
    }
  }
  return { server, expectations };
}

export async function listJobs(spool: string, state: string, country: string): Promise<string[]> {
  try {
    return (await readdir(join(spool, state, country))).filter((n) => n.endsWith('.job')).sort();
  } catch {
    return [];
  }
}

/** Every job is in exactly one state, the one expected, with the expected failure code. */
export async function assertOutcomes(spool: string, country: string, expectations: Expectation[]): Promise<void> {
  const where = new Map<string, string[]>();
  for (const state of ['incoming', 'downloaded', 'thumbed', 'failed']) {
    for (const name of await listJobs(spool, state, country)) where.set(name, [...(where.get(name) ?? []), state]);
  }
  for (const e of expectations) {
    const states = where.get(`${e.hash}.job`) ?? [];
    if (states.length !== 1 || states[0] !== e.end) {
      const said = states.includes('failed') ? `: ${await readFile(join(spool, 'failed', country, `${e.hash}.job`), 'utf8')}` : '';
      assert.equal(states, [e.end], `${e.kind} ${e.path} is in ${states.join('+') || 'no state'}${said}`);
    }
    if (e.end === 'failed') {
      const job = JSON.parse(await readFile(join(spool, 'failed', country, `${e.hash}.job`), 'utf8')) as { errorCode: string; error: string };
      assert.is(job.errorCode, e.code, `${e.path}: ${job.error}`);
      assert.ok(job.error.length > 0, 'a failed job says why');
    }
  }
}

/** Every thumbed image has its manifest and every file it lists, whole and upright, sRGB, no EXIF. */
export async function assertThumbnails(tree: string, country: string, expectations: Expectation[]): Promise<void> {
  for (const e of expectations.filter((x) => x.end === 'thumbed')) {
    const manifest = JSON.parse(await readFile(manifestPath(tree, country, e.hash), 'utf8')) as Manifest;
    assert.is(manifest.url, e.url);
    assert.is(manifest.sizes.length, 3);
    assert.equal([manifest.source.width, manifest.source.height], [e.width, e.height], `${e.path} source`);
    for (const size of manifest.sizes) {
      const bytes = await readFile(join(tree, size.path));
      assert.is(bytes.length, size.bytes, `${size.path} length`);
      const meta = await sharp(bytes).metadata();
      assert.equal([meta.width, meta.height], [size.width, size.height], size.path);
      assert.is(meta.space, 'srgb');
      assert.is(meta.exif, undefined);
      const box = { thumb: [120, 90], medium: [200, 150], large: [480, 360] }[size.name as 'thumb'];
      const scale = Math.min(box[0]! / e.width, box[1]! / e.height, 1);
      assert.ok(Math.abs(size.width - e.width * scale) <= 1 && Math.abs(size.height - e.height * scale) <= 1, `${size.path}: ${size.width}x${size.height} for ${e.width}x${e.height}`);
      if (size.name === 'large') assert.ok(isRed(await regionMean(bytes, MARKER)), `${e.kind} ${size.path}: marker not upright`);
    }
  }
}

/** The server saw exactly the expected number of requests per URL: nothing downloaded twice. */
export function assertHits(server: SourceServer, expectations: Expectation[]): void {
  for (const e of expectations) assert.is(server.hits.get(e.path) ?? 0, e.hits, `${e.kind} ${e.path} requests`);
}

/** Nothing partial or temporary is left where a reader looks. */
export async function assertNoLeftovers(spool: string, tree: string): Promise<void> {
  assert.equal(await readdir(join(spool, '.tmp')).catch(() => []), [], 'spool/.tmp is empty');
  assert.equal(await readdir(join(tree, '.tmp')).catch(() => []), [], 'tree/.tmp is empty');
  for (const state of ['incoming', 'downloaded', 'thumbed', 'failed']) {
    for (const country of await readdir(join(spool, state)).catch(() => [] as string[])) {
      const names = await readdir(join(spool, state, country));
      // failed/ also holds what intake set aside: `<name>.refused` with its reason in `<name>.error`
      const setAside = (n: string): boolean =>
        state === 'failed' && ((n.endsWith('.refused') && names.includes(`${n.slice(0, -'.refused'.length)}.error`)) || (n.endsWith('.error') && names.includes(`${n.slice(0, -'.error'.length)}.refused`)));
      const stray = names.filter((n) => !n.endsWith('.job') && !setAside(n));
      assert.equal(stray, [], `${state}/${country} holds only jobs`);
    }
  }
}

export async function mtimeOf(path: string): Promise<number> {
  return (await stat(path)).mtimeMs;
}

/** Writes the scenario's URLs as ETL does: half renamed into place, half written plainly in two goes. */
export async function dropBatches(spool: string, country: string, urls: string[]): Promise<void> {
  const { mkdir, writeFile, rename, appendFile } = await import('node:fs/promises');
  const dir = join(spool, 'incoming', country);
  await mkdir(dir, { recursive: true });
  const half = Math.ceil(urls.length / 2);
  await writeFile(join(dir, '.feed-a.urls.part'), urls.slice(0, half).map((u) => `${u}\t16`).join('\n') + '\n');
  await rename(join(dir, '.feed-a.urls.part'), join(dir, 'feed-a.urls'));
  const rest = urls.slice(half);
  const mid = Math.floor(rest.length / 2);
  await writeFile(join(dir, 'feed-b.urls'), rest.slice(0, mid).join('\n') + '\n');
  await new Promise((resolve) => setTimeout(resolve, 100));
  await appendFile(join(dir, 'feed-b.urls'), rest.slice(mid).join('\n') + '\n');
}
