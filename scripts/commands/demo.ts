import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseConfig, type Config } from '../../engine/config/config.js';
import { Engine } from '../../engine/engine.js';
import { thumbnailsForUrl } from '../../engine/interface.js';
import { createLogger } from '../../engine/log/logger.js';
import { formatStatus, gatherStatus, statusSource } from '../../engine/observe/status.js';
import { describe, sweepExitCode, sweep, warnings } from '../../engine/sweep/sweep.js';
import { makeSample, makeSampleSet } from '../sample-images.js';
import { entryPath, stateDir } from '../../spool/layout.js';
import { startSourceServer, type Route } from '../source-server.js';

/**
 * `imagesys demo`: makes sample images, serves them from a local HTTP server, drops a batch of their
 * URLs into a fresh spool as ETL would, processes it and shows where the thumbnails are.
 */
export async function demoCommand(dir: string): Promise<number> {
  const root = resolve(dir);
  await rm(root, { recursive: true, force: true });
  const step = (text: string): void => void process.stderr.write(`demo: ${text}\n`);

  step('making sample images');
  const routes = new Map<string, Route>();
  for (const { name, bytes } of await makeSampleSet(20)) routes.set(`/photos/${name}`, { kind: 'image', bytes });
  routes.set('/photos/rotated-exif-6.jpg', { kind: 'image', bytes: await makeSample({ width: 800, height: 600, orientation: 6, seed: 3 }) });
  routes.set('/photos/cmyk.jpg', { kind: 'image', bytes: await makeSample({ width: 640, height: 480, cmyk: true, seed: 4 }) });
  routes.set('/photos/transparent.png', { kind: 'image', bytes: await makeSample({ width: 500, height: 400, alpha: true, format: 'png', seed: 5 }) });
  routes.set('/photos/flaky.jpg', { kind: 'flaky', failures: 1, status: 503, bytes: await makeSample({ width: 700, height: 500, seed: 6 }) });
  routes.set('/photos/error-page.jpg', { kind: 'html' });
  routes.set('/photos/gone.jpg', { kind: 'status', status: 404 });
  const server = await startSourceServer(routes);
  step(`serving ${routes.size} images from ${server.base}`);

  const config: Config = parseConfig({
    spool: join(root, 'spool'),
    tree: join(root, 'tree'),
    countries: ['uk'],
    baseUrl: 'http://localhost:8080/thumbs',
    retry: { baseMs: 200, maxMs: 1000, maxAttempts: 3 },
    // the demo's source is on loopback, which the SSRF guard refuses unless allowed
    download: { allow: ['127.0.0.1'], perHostRate: 0, proxy: 'none' },
    intake: { settleMs: 0 },
    log: { level: 'warn', dir: join(root, 'log') },
    // local directories stand for the frontends n1-n3
    sweep: { targets: ['n1', 'n2', 'n3'].map((name) => ({ name, dest: join(root, name) })) },
  });
  const urls = [...routes.keys()].map((path) => server.url(path));
  // ETL's way: write a dotfile, then rename it into place
  const incoming = stateDir(config.spool, 'incoming', 'uk');
  const batch = entryPath(config.spool, 'incoming', 'uk', 'demo.urls');
  const hidden = entryPath(config.spool, 'incoming', 'uk', '.demo.urls.tmp');
  await mkdir(incoming, { recursive: true });
  await writeFile(hidden, `${urls.join('\t16\n')}\t16\n`);
  await rename(hidden, batch);
  step(`dropped ${urls.length} URLs into ${batch}`);

  const engine = new Engine({ config, countries: ['uk'], log: createLogger({ level: 'error', component: 'demo', pretty: process.stderr.isTTY }) });
  const started = performance.now();
  try {
    await engine.drain(() => step(`${engine.stats.thumbed} thumbed, ${engine.stats.failed} failed, ${engine.stats.retries} retries so far`));
  } finally {
    await engine.stop();
    await server.close();
  }
  const seconds = (performance.now() - started) / 1000;

  step('sweep --sync: copying the tree to n1, n2 and n3 with rsync');
  for (const target of config.sweep.targets) await mkdir(target.dest, { recursive: true });
  const swept = await sweep(config, { sync: true, purge: false, fsCheck: false, repair: false, countries: ['uk'] });
  for (const line of [...warnings(swept), ...describe(swept, true)]) step(line);
  if (sweepExitCode(swept) !== 0) return 1;

  const example = await thumbnailsForUrl({ tree: config.tree, baseUrl: config.baseUrl }, 'uk', server.url('/photos/rotated-exif-6.jpg'));
  console.log(formatStatus(await gatherStatus(statusSource(config, ['uk']))));
  console.log('');
  console.log(`thumbnails are in ${join(config.tree, 'uk')}; one image, as the Interface returns it:`);
  for (const size of example?.sizes ?? []) console.log(`  ${size.name.padEnd(7)} ${size.width}x${size.height} ${size.bytes} bytes  ${join(config.tree, size.path)}`);
  console.log(`failed jobs say why: cat ${stateDir(config.spool, 'failed', 'uk')}/*.job`);
  console.log(`the frontends' copies: ${config.sweep.targets.map((t) => t.dest).join(', ')}`);
  console.log(`the status page and /metrics: bin/imagesys run --spool ${config.spool} --tree ${config.tree} --country uk, then open http://127.0.0.1:9464/`);
  console.log(`demo: ${engine.stats.thumbed} thumbed, ${engine.stats.failed} failed (as intended: an HTML page and a 404), ${engine.stats.retries} retries in ${seconds.toFixed(1)}s`);
  return engine.stats.thumbed === routes.size - 2 ? 0 : 1;
}
