/**
 * `npm run bench:run-once [-- --corpus DIR] [--images N] [--threads N] [--concurrency N] [--budget MiB] [--tmp DIR] [--plain] [--bin PATH]`
 *
 * The peak RSS of `bin/imagesys run --once`, as shipped, in a process of its own: this bench serves
 * the mixed corpus of `npm run bench -- --mixed` (small photos and 24-40 Mpx JPEGs and 4000x3000
 * PNGs made from them; `--plain` for the small ones alone) over HTTP from its own process, writes one
 * batch of every URL into a fresh spool, runs the command on it and samples the child's VmHWM (the
 * kernel's high-water mark, so no peak between samples is missed). Prints a table and one JSON line
 * with `run_once_peak_rss_mb`. `--bin` runs another build's bin/imagesys (an A/B of commits). Progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { loadCorpus, makeCorpus, makeMixedCorpus, MIXED_SMALL, type CorpusImage } from './lib/corpus.js';
import { table } from './lib/format.js';
import { printJsonLine, printLines, progressLines } from './lib/output.js';
import { MIB, round, secondsSince } from './lib/stats.js';

const progress = progressLines('bench:run-once');

const { values } = parseArgs({
  options: {
    corpus: { type: 'string' },
    images: { type: 'string' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '16' },
    budget: { type: 'string' },
    tmp: { type: 'string', default: tmpdir() },
    plain: { type: 'boolean', default: false },
    bin: { type: 'string' },
  },
  strict: true,
});
const positive = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, not ${raw}`);
  return n;
};
const threads = positive('threads', values.threads)!;
const concurrency = positive('concurrency', values.concurrency)!;
const budget = positive('budget', values.budget);
const tmp = resolve(values.tmp);
const BIN = values.bin ? resolve(values.bin) : fileURLToPath(new URL('../../bin/imagesys', import.meta.url));

/** The child's kernel high-water mark and current RSS (bytes), or null once it has gone. */
function memoryOf(pid: number): { hwm: number; rss: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
  } catch {
    return null;
  }
}

async function corpus(workDir: string): Promise<{ images: CorpusImage[]; label: string }> {
  const limit = positive('images', values.images) ?? MIXED_SMALL;
  const small = values.corpus ? await loadCorpus(resolve(values.corpus), limit) : await makeCorpus(join(workDir, 'corpus'), limit);
  const label = values.corpus ? resolve(values.corpus) : 'generated samples';
  if (values.plain) return { images: small, label: `${small.length} photos from ${label}` };
  const images = await makeMixedCorpus(tmp, small, progress);
  return { images, label: `a mixed corpus: ${small.length} from ${label} and ${images.length - small.length} large photos made from them` };
}

async function main(): Promise<void> {
  await mkdir(tmp, { recursive: true });
  const workDir = await mkdtemp(join(tmp, 'imagesys-run-once-'));
  try {
    const { images, label } = await corpus(workDir);
    const routes = new Map<string, Route>();
    const paths = images.map((image, i) => {
      const path = `/photos/${i}/${encodeURIComponent(image.name)}`;
      routes.set(path, { kind: 'image', bytes: image.bytes });
      return path;
    });
    const server = await startSourceServer(routes);
    try {
      const spool = join(workDir, 'spool');
      const config = {
        spool,
        tree: join(workDir, 'tree'),
        countries: ['uk'],
        intake: { settleMs: 0 },
        pool: { threads, ...(budget ? { memoryBudgetMiB: budget } : {}) },
        download: { concurrency, perHost: concurrency, perHostRate: 0, allow: ['127.0.0.1'], proxy: 'none' },
        log: { level: 'warn', dir: join(workDir, 'log') },
      };
      const configPath = join(workDir, 'config.json');
      await writeFile(configPath, JSON.stringify(config, null, 2));
      const incoming = join(spool, 'incoming', 'uk');
      await mkdir(incoming, { recursive: true });
      await writeFile(join(incoming, '.all.tmp'), `${paths.map((p) => server.url(p)).join('\n')}\n`);
      await rename(join(incoming, '.all.tmp'), join(incoming, 'all.urls'));
      const corpusMiB = images.reduce((n, c) => n + c.bytes.length, 0) / MIB;
      progress(`${images.length} images (${corpusMiB.toFixed(1)} MiB) from ${label}; ${threads} threads, ${concurrency} downloads; running ${BIN} run --once`);

      const started = performance.now();
      const child = spawn(BIN, ['run', '--once', '--config', configPath], { stdio: ['ignore', 'pipe', 'inherit'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      let peak = 0;
      let peakRss = 0;
      const sample = (): void => {
        const memory = child.pid === undefined ? null : memoryOf(child.pid);
        if (memory) {
          peak = Math.max(peak, memory.hwm);
          peakRss = Math.max(peakRss, memory.rss);
        }
      };
      const timer = setInterval(sample, 20);
      const code = await new Promise<number>((done) => child.on('exit', (c) => done(c ?? 1)));
      clearInterval(timer);
      const seconds = secondsSince(started);
      const served = images.length;
      const summary = stdout.trim().split('\n').pop() ?? '';
      printLines([
        `imagesys run --once: ${images.length} images (${corpusMiB.toFixed(1)} MiB) from ${label}`,
        `${threads} threads, download.concurrency ${concurrency}, pool.memoryBudgetMiB ${budget ?? 'default'}; bin/imagesys as shipped`,
        '',
        table([
          ['figure', 'value'],
          ['exit code', String(code)],
          ['seconds', seconds.toFixed(2)],
          ['img/s', (served / seconds).toFixed(1)],
          ['peak RSS (VmHWM, last sample)', `${(peak / MIB).toFixed(1)} MiB`],
          ['peak RSS (20 ms samples)', `${(peakRss / MIB).toFixed(1)} MiB`],
          ['summary', summary],
        ]),
        '',
        `peak RSS MiB ${(peak / MIB).toFixed(0).padStart(6)}   target <= 300   ${peak / MIB <= 300 ? 'met' : 'NOT MET'}`,
      ]);
      printJsonLine({
        run_once_peak_rss_mb: round(peak / MIB, 1),
        run_once_sampled_rss_mb: round(peakRss / MIB, 1),
        run_once_seconds: round(seconds, 2),
        run_once_exit: code,
        images: images.length,
        corpus_mib: round(corpusMiB, 1),
        threads,
        download_concurrency: concurrency,
        memory_budget_mib: budget ?? null,
        mixed: !values.plain,
      });
      process.exitCode = code === 0 ? 0 : 1;
    } finally {
      await server.close();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:run-once: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
