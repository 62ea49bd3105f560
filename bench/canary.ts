/**
 * `npm run bench:canary [-- --corpus DIR] [--images N] [--copies 4] [--rounds 4] [--interval 0.05]
 *   [--deadline 0.5] [--targets 2] [--sweep-every 2] [--fsync true|false] [--tmp DIR] [--keep]`
 *
 * What the canary (engine/canary/) costs the daemon's throughput (issue 16). Rounds with canaries off
 * and on alternate in one run, in pairs of alternating order (off on, on off, off on, ...), after one
 * untimed round that warms the process. Every round is a daemon of its own, wired as `imagesys run`
 * wires it (Observability.serve, allowCanaries, Engine.start, startCanary), in this process, on a
 * fresh spool, tree and sweep targets (local directories); the one difference is
 * `canary.intervalMinutes`: 0, or --interval (every 3 s by default, with a 30 s deadline: far more
 * often than anyone would run it).
 * Once the engine has thumbed a few warm-up images, one batch of the corpus' images, each under
 * --copies URLs (N = images x copies), is dropped into incoming/uk; the round is timed from the drop
 * until all N have come to rest. The corpus is ../shared/fixtures/photos when it is there.
 *
 * The sweeper runs beside every round as cron runs it, in a process of its own (this file, started
 * with --sweeper-child: `sweep --sync` every --sweep-every seconds; 0: none), over the canary's
 * country only, which is none when canaries are off: the listing photos' own sync is the same with or
 * without canaries, and would add rsync's cost, and its noise, to both modes. So the canary rounds pay
 * for everything the canary adds: its batch, its picture (made by the daemon's server) downloaded and
 * thumbnailed, the extra country watched, its checks (spool, tree, and `rsync --list-only` on each
 * target after each sweep of it), the sweeper sending and deleting it, and its removal. Without a
 * sweeper no canary arrives: none is listed (no sweep finished) and each fails at the sync stage.
 *
 * Prints per round: images/s; the daemon's CPU per image (this process, all threads: the engine, its
 * pool, the source server's thread; and the processes it spawned and waited for, counted: the canary's
 * listings run from one shell of their own, whose rsyncs are the shell's children), its minor page
 * faults (a fork of the daemon leaves its pages copy-on-write) and its main thread's CPU; the sweeper's
 * (its process and its rsyncs); the whole machine's busy cores; the canaries sent and decided. Then
 * the median per mode, the ratios canary / no canary, what one canary cost, and, last, one JSON line.
 * Progress goes to stderr.
 *
 * Its parts are in bench/canary/: args (the command line), meters (CPU, page faults, spawns), sweeper
 * (the sweeper's process), round (one daemon's round) and report (the table and the JSON line).
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_SAMPLE_COUNT } from './bench-args.js';
import { loadCorpus, makeCorpus, type CorpusImage } from './lib/corpus.js';
import { printJsonLine, printLines } from './lib/output.js';
import { startThreadServer, type ThreadServer } from './lib/server-thread.js';
import { FIXTURE_PHOTOS, progress, optionsOf, roundOrder, type Options } from './canary/args.js';
import { canaryPngMs, daemonRound, roundLine, type RoundResult } from './canary/round.js';
import { reportOf } from './canary/report.js';

async function loadOrMake(options: Options, workDir: string): Promise<{ corpus: CorpusImage[]; label: string }> {
  const dir = options.corpus ?? (existsSync(FIXTURE_PHOTOS) ? FIXTURE_PHOTOS : undefined);
  if (dir) {
    const corpus = await loadCorpus(dir, options.images);
    if (corpus.length === 0) throw new Error(`no images in ${dir}`);
    return { corpus, label: resolve(dir) };
  }
  const count = options.images ?? DEFAULT_SAMPLE_COUNT;
  progress(`generating ${count} sample images`);
  return { corpus: await makeCorpus(join(workDir, 'corpus'), count), label: `${count} generated samples` };
}

async function main(): Promise<void> {
  const options = optionsOf(process.argv.slice(2));
  const loadBefore = loadavg();
  await mkdir(options.tmp, { recursive: true });
  const workDir = await mkdtemp(join(options.tmp, 'imagesys-bench-canary-'));
  const interrupted = (): void => {
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
    process.exit(130); // the sweeper's process goes with its parent (disconnect)
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let server: ThreadServer | undefined;
  try {
    const { corpus, label } = await loadOrMake(options, workDir);
    // every round has the same URLs, on a tree of its own
    const routes = new Map<string, Uint8Array>();
    const route = (path: string, bytes: Uint8Array): string => {
      routes.set(path, bytes);
      return path;
    };
    const warmPaths = corpus.slice(0, Math.max(8, availableParallelism() * 4)).map((image, i) => route(`/warm/${i}/${encodeURIComponent(image.name)}`, image.bytes));
    const batchPaths = Array.from({ length: options.copies }, (_, copy) => corpus.map((image, i) => route(`/photos/${copy}/${i}/${encodeURIComponent(image.name)}`, image.bytes))).flat();
    const source = (server = await startThreadServer(routes));
    const warm = warmPaths.map((p) => source.url(p));
    const batch = batchPaths.map((p) => source.url(p));
    const n = batch.length;
    const sweeping = options.sweepEveryMs > 0 ? `a sweeper process syncing the canary's country every ${options.sweepEveryMs / 1000} s` : 'no sweeper (canaries fail at sync)';
    progress(`${corpus.length} images x ${options.copies} copies = ${n} a round, from ${label}; canaries every ${options.intervalMinutes} min (deadline ${options.deadlineMinutes} min), ${options.targets} local target(s), ${sweeping}; fsync ${options.fsync}; load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);

    progress('warm-up round (untimed, canaries off) ...');
    const warmUp = await daemonRound(options, { mode: 'off', warm, batch: batch.slice(0, corpus.length), workDir });
    progress(`warm-up round ... ${warmUp.imgPerSec.toFixed(1)} img/s`);
    const modes = roundOrder(options.rounds);
    const results: RoundResult[] = [];
    for (const [i, mode] of modes.entries()) {
      const result = await daemonRound(options, { mode, warm, batch, workDir });
      results.push(result);
      progress(roundLine(i + 1, modes.length, result));
      if (result.logged.length > 0) progress(`  ${result.logged.length} line(s) logged at warn or above, the first: ${result.logged[0]?.trim()}`);
      for (const error of [...new Set(result.sweeps.errors)].slice(0, 3)) progress(`  sweeper: ${error}`);
    }
    const corpusLine = `${n} images a round (${corpus.length} from ${label} x ${options.copies}), ${options.rounds} rounds a mode (${modes.join(' ')}) after an untimed one`;
    const report = reportOf(results, { options, n, corpusLine, sweeping, loadBefore, loadAfter: loadavg(), pngMs: canaryPngMs() });
    printLines(report.lines);
    printJsonLine(report.json);
  } finally {
    await server?.close();
    if (options.keep) progress(`kept ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:canary: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});

