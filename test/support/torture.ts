/**
 * Crash and several-engine torture, shared by the suite (short forms, test/torture.test.ts) and by
 * `npm run torture` (long forms, test/torture.ts). Real daemons, real SIGKILLs, a real HTTP source.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, rename, symlink, truncate, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import type { Manifest } from '../../engine/tree/tree.js';
import { manifestPath } from '../../engine/tree/tree.js';
import { hashForUrl } from '../../engine/core/hash.js';
import { makeSample } from '../../scripts/sample-images.js';
import { startSourceServer, type Route, type SourceServer } from '../../scripts/source-server.js';
import { kill, startDaemon, waitUntil, writeTestConfig, type Daemon } from './cli.js';
import { skewedClock } from './faketime.js';
import { assertNoLeftovers, assertOutcomes, assertThumbnails, listJobs, type Expectation } from './scenario.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface TortureSource {
  server: SourceServer;
  expectations: Expectation[];
}

/** `count` URLs on one server: mostly good photos, some 404, some 500-then-200, some HTML pages. */
export async function startTortureSource(count: number, maxAttempts: number): Promise<TortureSource> {
  const sizes: Array<[number, number]> = [[320, 240], [300, 400], [480, 320], [256, 192]];
  const photos = await Promise.all(sizes.map(async ([width, height], i) => ({ width, height, bytes: await makeSample({ width, height, seed: 40 + i }) })));
  const routes = new Map<string, Route>();
  const server = await startSourceServer(routes);
  const expectations: Expectation[] = [];
  for (let i = 0; i < count; i++) {
    const photo = photos[i % photos.length]!;
    const path = `/t/${i}.jpg`;
    const url = server.url(path);
    const base = { path, url, hash: hashForUrl(url) };
    if (i % 20 === 7) {
      routes.set(path, { kind: 'status', status: 404 });
      expectations.push({ ...base, kind: 'missing', end: 'failed', code: 'http_not_found', hits: 1, width: 0, height: 0 });
    } else if (i % 20 === 13) {
      routes.set(path, { kind: 'html' });
      expectations.push({ ...base, kind: 'html', end: 'failed', code: 'not_image', hits: 1, width: 0, height: 0 });
    } else if (i % 20 === 3 && maxAttempts > 1) {
      routes.set(path, { kind: 'flaky', failures: 1, status: 500, bytes: photo.bytes });
      expectations.push({ ...base, kind: 'flaky', end: 'thumbed', hits: 2, width: photo.width, height: photo.height });
    } else {
      routes.set(path, { kind: 'image', bytes: photo.bytes });
      expectations.push({ ...base, kind: 'good', end: 'thumbed', hits: 1, width: photo.width, height: photo.height });
    }
  }
  return { server, expectations };
}

/** As ETL does: batches of `perBatch` URLs, each written as a dotfile and renamed into place. */
export async function dropBatches(spool: string, urls: string[], perBatch: number): Promise<void> {
  const dir = join(spool, 'incoming', 'uk');
  await mkdir(dir, { recursive: true });
  for (let start = 0, n = 0; start < urls.length; start += perBatch, n++) {
    await writeFile(join(dir, `.feed-${n}.tmp`), `${urls.slice(start, start + perBatch).join('\n')}\n`);
    await rename(join(dir, `.feed-${n}.tmp`), join(dir, `feed-${n}.urls`));
  }
}

/**
 * What an attacker with write access to incoming/ drops among the good batches (issue 12): a FIFO, a
 * link to a file of URLs that must never be fetched, and a batch with one 20 MB line.
 */
export async function dropHostile(spool: string, dir: string, secretUrls: string[]): Promise<void> {
  const incoming = join(spool, 'incoming', 'uk');
  await promisify(execFile)('mkfifo', [join(incoming, 'hostile-fifo.urls')]);
  await writeFile(join(dir, 'secret.urls'), `${secretUrls.join('\n')}\n`);
  await symlink(join(dir, 'secret.urls'), join(incoming, 'hostile-link.urls'));
  const huge = join(dir, '.hostile-huge.tmp');
  await writeFile(huge, 'x');
  await truncate(huge, 20 * 2 ** 20);
  await rename(huge, join(incoming, 'hostile-huge.urls'));
}

/** The hostile drops ended where they belong: set aside or failed, and nothing behind the link fetched. */
export async function assertHostileHandled(spool: string, server: SourceServer, expectations: Expectation[]): Promise<void> {
  const failed = join(spool, 'failed', 'uk');
  assert.ok((await lstat(join(failed, 'hostile-fifo.urls.refused'))).isFIFO(), 'the FIFO is set aside');
  assert.ok((await lstat(join(failed, 'hostile-link.urls.refused'))).isSymbolicLink(), 'the link is set aside');
  assert.is([...server.hits.keys()].filter((p) => p.startsWith('/secret/')).length, 0, 'nothing behind the link was fetched');
  const expected = new Set(expectations.map((e) => `${e.hash}.job`));
  const extra = (await readdir(failed)).filter((n) => n.endsWith('.job') && !expected.has(n));
  assert.is(extra.length, 1, `one failed job for the 20 MB line: ${extra.join(' ')}`);
  assert.match(await readFile(join(failed, extra[0]!), 'utf8'), /a line of 20971520 bytes is longer than/);
}

/** `skewed`: engines' clocks will be off by up to an hour, which they must not refuse (the claims are tested). */
export async function writeTortureConfig(dir: string, maxAttempts: number, skewed = false): Promise<string> {
  return writeTestConfig(dir, {
    countries: ['uk'],
    download: { concurrency: 16, perHost: 16, headersTimeoutMs: 5_000, bodyTimeoutMs: 5_000, totalTimeoutMs: 15_000 },
    retry: { baseMs: 50, maxMs: 300, maxAttempts, factor: 2, jitter: 0.5 },
    claims: skewed ? { staleMs: 3_000, clockRefuseMs: 7_200_000 } : { staleMs: 3_000 },
  });
}

/** Jobs that reached a final state. */
export async function finishedCount(spool: string): Promise<number> {
  return (await listJobs(spool, 'thumbed', 'uk')).length + (await listJobs(spool, 'failed', 'uk')).length;
}

/** Every job finished (hostile input may add failed ones), none waiting, every batch read and removed. */
async function allDone(spool: string, urls: number): Promise<boolean> {
  if ((await finishedCount(spool)) < urls) return false;
  if ((await listJobs(spool, 'incoming', 'uk')).length + (await listJobs(spool, 'downloaded', 'uk')).length > 0) return false;
  return (await readdir(join(spool, 'incoming', 'uk'))).every((name) => !name.endsWith('.urls'));
}

/**
 * What a reader may see at any instant, even right after a kill: every visible job parses, no job is
 * in two states, every manifest's files are there with the sizes it lists. Cheap enough to run after
 * every kill (it decodes nothing).
 */
export async function assertConsistent(spool: string, tree: string): Promise<void> {
  const seen = new Map<string, string>();
  for (const state of ['incoming', 'downloaded', 'thumbed', 'failed']) {
    for (const name of await listJobs(spool, state, 'uk')) {
      const previous = seen.get(name);
      assert.not.ok(previous, `${name} is in ${previous} and ${state}`);
      seen.set(name, state);
      const job = JSON.parse(await readFile(join(spool, state, 'uk', name), 'utf8')) as { url?: string; errorCode?: string };
      assert.ok(job.url, `${state}/${name} has its url`);
      if (state === 'failed') assert.ok(job.errorCode, `failed/${name} says why`);
    }
  }
  for (const name of await listJobs(spool, 'thumbed', 'uk')) {
    const hash = name.slice(0, -'.job'.length);
    const manifest = JSON.parse(await readFile(manifestPath(tree, 'uk', hash), 'utf8')) as Manifest;
    for (const size of manifest.sizes) {
      const bytes = await readFile(join(tree, size.path));
      assert.is(bytes.length, size.bytes, `${size.path} is whole`);
    }
  }
}

/** The end state after any torture: every URL where it belongs, every file whole and decodable, nothing left over. */
export async function assertFinalState(spool: string, tree: string, expectations: Expectation[]): Promise<void> {
  await assertOutcomes(spool, 'uk', expectations);
  await assertThumbnails(tree, 'uk', expectations);
  await assertNoLeftovers(spool, tree);
  assert.equal((await readdir(join(spool, 'incoming', 'uk'))).filter((n) => n.endsWith('.urls')), [], 'every batch was read');
}

/** Hashes each engine logged as thumbed (needs --verbose: one debug line per image written to the tree). */
export function thumbedHashes(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"thumbed"')) continue;
    const job = /"job":"([0-9a-f]{32})"/.exec(line)?.[1];
    if (job) out.push(job);
  }
  return out;
}

export interface CrashTortureResult {
  kills: number;
  seconds: number;
  finishedAtKills: number[];
}

interface TortureRun {
  source: TortureSource;
  config: string;
  spool: string;
  tree: string;
  /** Every daemon started, so that none outlives the run. */
  daemons: Daemon[];
}

/** The source server, config and spool paths of one torture, torn down afterwards whatever happens. */
async function withTorture<T>(dir: string, urls: number, body: (run: TortureRun) => Promise<T>, skewed = false): Promise<T> {
  const maxAttempts = 3;
  const source = await startTortureSource(urls, maxAttempts);
  const daemons: Daemon[] = [];
  try {
    const config = await writeTortureConfig(dir, maxAttempts, skewed);
    return await body({ source, config, spool: join(dir, 'spool'), tree: join(dir, 'tree'), daemons });
  } finally {
    for (const daemon of daemons) await kill(daemon);
    await source.server.close();
  }
}

/** After the first download of a daemon's run, the kill comes this much later at most (at random). */
const KILL_WINDOW_MS = 1_500;

/**
 * Waits until a freshly started daemon is at work, judged from what it does rather than from the
 * clock (a loaded machine may take seconds to start it): the source server has seen a request since
 * `hitsAtStart`, or there is nothing left to do. Then waits a random 0-KILL_WINDOW_MS more. Returns
 * how long the start took, until that first request.
 */
async function awaitWorkInProgress(run: TortureRun, hitsAtStart: number, urls: number): Promise<number> {
  const started = performance.now();
  await waitUntil('the daemon downloads', async () => run.source.server.totalHits() > hitsAtStart || (await allDone(run.spool, urls)), 120_000);
  const startup = performance.now() - started;
  await sleep(Math.random() * KILL_WINDOW_MS);
  return startup;
}

/**
 * Runs the daemon over `urls` URLs and kills it with SIGKILL `kills` times, checking what a reader
 * sees after every kill; then lets it finish and checks the end state. Kills alternate between a
 * random moment of the work (intake, downloads, thumbnails, tree writes) and a random moment of the
 * start-up (recovery, claims taken over, the arrival log replayed), whose length the previous run
 * showed: both timed from what the daemon did, not from a window that a loaded machine overruns.
 */
export async function crashTorture(dir: string, options: { urls: number; kills: number; progress?: (line: string) => void }): Promise<CrashTortureResult> {
  const started = performance.now();
  return withTorture(dir, options.urls, async (run) => {
    const { source, config, spool, tree, daemons } = run;
    await dropBatches(spool, source.expectations.map((e) => e.url), 250);
    await dropHostile(spool, dir, [0, 1, 2].map((i) => source.server.url(`/secret/${i}.jpg`)));
    const finishedAtKills: number[] = [];
    let startupMs: number | undefined;
    for (let k = 0; k < options.kills; k++) {
      const hitsAtStart = source.server.totalHits();
      const daemon = startDaemon(['--config', config]);
      daemons.push(daemon);
      if (k % 2 === 1 && startupMs !== undefined) await sleep(Math.random() * startupMs);
      else startupMs = await awaitWorkInProgress(run, hitsAtStart, options.urls);
      await kill(daemon);
      const finished = await finishedCount(spool);
      finishedAtKills.push(finished);
      options.progress?.(`kill ${k + 1}/${options.kills}: ${finished}/${options.urls} jobs finished`);
      await assertConsistent(spool, tree);
    }
    const last = startDaemon(['--config', config]);
    daemons.push(last);
    await waitUntil('every job is finished and every batch removed', () => allDone(spool, options.urls), 60_000 + options.urls * 100);
    await kill(last, 'SIGTERM');
    await assertFinalState(spool, tree, source.expectations);
    await assertHostileHandled(spool, source.server, source.expectations);
    // a job in flight at a kill may be fetched again; nothing else is
    for (const e of source.expectations) {
      const hits = source.server.hits.get(e.path) ?? 0;
      assert.ok(hits >= e.hits && hits <= e.hits + options.kills, `${e.path} fetched ${hits} times`);
    }
    return { kills: options.kills, seconds: (performance.now() - started) / 1000, finishedAtKills };
  });
}

export interface EnginesTortureResult {
  seconds: number;
  thumbedBy: number[];
  /** From the kill of one engine until every job claimed at that moment was finished by the others. */
  takeoverSeconds: number;
  heldAtKill: number;
}

/**
 * `engines` daemons on one spool over the same `urls` URLs; one of them is killed while it holds work.
 * Nothing is downloaded or thumbnailed twice except what the killed engine had in hand, nothing is
 * lost, and the killed engine's work is taken over within claims.staleMs (plus a rescan). `skews`:
 * engine i's clock is off by skews[i % length] (libfaketime, support/faketime.ts; 'none': not at all);
 * the last engine is the one killed, so put an hour's skew first (a dead engine's retry times are
 * written by its clock: an hour ahead, they would keep the others waiting an hour).
 */
export async function enginesTorture(dir: string, options: { urls: number; engines: number; skews?: readonly string[]; progress?: (line: string) => void }): Promise<EnginesTortureResult> {
  const started = performance.now();
  const skews = options.skews ?? [];
  return withTorture(dir, options.urls, async ({ source, config, spool, tree, daemons }) => {
    for (let i = 0; i < options.engines; i++) daemons.push(startDaemon(['--config', config, '--verbose'], skews.length > 0 ? skewedClock(skews[i % skews.length]!) : undefined));
    await dropBatches(spool, source.expectations.map((e) => e.url), 100);
    // kill the last engine once it is well into the work, holding claims
    const victim = daemons[daemons.length - 1]!;
    await waitUntil('a third of the jobs are finished', async () => (await finishedCount(spool)) >= options.urls / 3, 120_000);
    await waitUntil('the victim has thumbnailed something', () => thumbedHashes(victim.output()).length > 0, 30_000);
    await kill(victim);
    const killedAt = performance.now();
    // the claims in the spool right after the kill: all of the victim's (and a few of the survivors')
    const held = (await readdir(join(spool, '.locks'))).filter((n) => /^uk\.[0-9a-f]{32}\.lock$/.test(n)).map((n) => n.slice(3, 35));
    assert.ok(held.length > 0, 'the victim was killed while it held work');
    options.progress?.(`engine ${daemons.length} killed with ${held.length} claims held in the spool, ${await finishedCount(spool)}/${options.urls} finished`);
    const isFinished = async (hash: string): Promise<boolean> => (await listJobs(spool, 'thumbed', 'uk')).includes(`${hash}.job`) || (await listJobs(spool, 'failed', 'uk')).includes(`${hash}.job`);
    await waitUntil('the work held at the kill is finished', async () => {
      for (const hash of held) if (!(await isFinished(hash))) return false;
      return true;
    }, 60_000);
    const takeoverSeconds = (performance.now() - killedAt) / 1000;
    await waitUntil('every job is finished and every batch removed', () => allDone(spool, options.urls), 60_000 + options.urls * 100);
    for (const daemon of daemons) await kill(daemon, 'SIGTERM');
    await assertFinalState(spool, tree, source.expectations);

    const heldSet = new Set(held);
    const perEngine = daemons.map((d) => thumbedHashes(d.output()));
    const writes = new Map<string, number>();
    for (const hashes of perEngine) for (const hash of hashes) writes.set(hash, (writes.get(hash) ?? 0) + 1);
    const thumbed = source.expectations.filter((x) => x.end === 'thumbed');
    for (const e of thumbed) assert.ok((writes.get(e.hash) ?? 0) <= 1, `${e.path} thumbnailed ${writes.get(e.hash)} times`);
    // log lines are written asynchronously: those the victim had not written out when it was killed
    // are lost (at most one per job in hand, download.concurrency); the survivors lose none
    const unlogged = thumbed.filter((e) => !writes.has(e.hash)).length;
    assert.ok(unlogged <= 16, `${unlogged} images thumbnailed without a log line`);
    for (const e of source.expectations) {
      const hits = source.server.hits.get(e.path) ?? 0;
      // the killed engine may have fetched what it held (and a retry's earlier attempt); nothing else twice
      const allowed = heldSet.has(e.hash) ? e.hits + 1 : e.hits;
      assert.ok(hits >= e.hits && hits <= allowed, `${e.path} fetched ${hits} times (expected ${e.hits}${heldSet.has(e.hash) ? ', held by the killed engine' : ''})`);
    }
    return { seconds: (performance.now() - started) / 1000, thumbedBy: perEngine.map((h) => h.length), takeoverSeconds, heldAtKill: held.length };
  }, skews.length > 0);
}
