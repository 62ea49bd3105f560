/**
 * The status page in a real browser (Debian's chromium driven by playwright-core) against a small HTTP
 * server that plays the daemon: the page shows the report's numbers, draws its charts, shows scraped
 * URLs as text (no markup from them runs), loads the thumbnails from `tree/`, asks nothing of any
 * other host, refreshes itself without reloading, and keeps its last data behind an error banner while
 * the daemon does not answer. The screenshot lands in test-output/status-page.png.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SeenDaemon } from '../../engine/observe/daemon-state.js';
import { formatCount } from '../../engine/observe/format.js';
import { statusPage } from '../../engine/observe/page/status-page.js';
import type { LatestThumbnail, StatusReport, ThroughputCounts } from '../../engine/observe/status.js';
import { STATES } from '../../spool/layout.js';
import { makeSample } from '../../scripts/sample-images.js';
import { browserMissing, launchBrowser, saveScreenshot } from '../support/browser.js';
import { testsNeeding } from '../support/needs.js';

const STATUS_PAGE_HTML = statusPage().html;
const MINUTES = 90;
const SCRIPT_URL = 'https://feeds.example.net/listing/77<script>window.__pwned=1</script>.jpg';
const IMG_URL = '<img src=x onerror="window.__pwned=2">';
const JS_URL = 'javascript:window.__pwned=3';

interface Thumbnail {
  entry: LatestThumbnail;
  files: Map<string, { type: string; bytes: Buffer }>;
}

/** Real small thumbnails (WebP and JPEG) of photo-like samples, as the tree would hold them. */
async function makeThumbnails(now: number): Promise<Thumbnail[]> {
  const specs = [
    { country: 'uk', hash: '3f9a1c0be27d4a55', format: 'webp' as const, seed: 3, url: 'https://img.example-agent.co.uk/p/1201/front.jpg' },
    { country: 'fr', hash: 'a81e44d09c3b7f12', format: 'jpeg' as const, seed: 8, url: 'https://photos.exemple-immo.fr/annonce/88/salon.jpg' },
    { country: 'uk', hash: 'c0ffee1234abcd99', format: 'webp' as const, seed: 13, url: 'https://img.example-agent.co.uk/p/1187/garden.jpg' },
  ];
  const made: Thumbnail[] = [];
  for (const [i, spec] of specs.entries()) {
    const original = await makeSample({ width: 800, height: 600, seed: spec.seed });
    const dir = `${spec.country}/${spec.hash.slice(0, 2)}/${spec.hash.slice(2, 4)}`;
    const ext = spec.format === 'webp' ? 'webp' : 'jpg';
    const type = spec.format === 'webp' ? 'image/webp' : 'image/jpeg';
    const thumb = await sharp(original).resize(160, 120)[spec.format]({ quality: 80 }).toBuffer();
    const large = await sharp(original).resize(640, 480)[spec.format]({ quality: 80 }).toBuffer();
    const sizes = [
      { name: 'large', path: `${dir}/${spec.hash}.large.${ext}`, width: 640, height: 480 },
      { name: 'thumb', path: `${dir}/${spec.hash}.thumb.${ext}`, width: 160, height: 120 },
    ];
    made.push({
      entry: { country: spec.country, hash: spec.hash, url: spec.url, at: new Date(now - (i + 1) * 7_000).toISOString(), sizes },
      files: new Map([
        [sizes[0]!.path, { type, bytes: large }],
        [sizes[1]!.path, { type, bytes: thumb }],
      ]),
    });
  }
  return made;
}

/** A minute's counts that vary like a working day: a wave, a saw, and failures now and then. */
function minuteCounts(i: number): ThroughputCounts {
  const thumbed = Math.round(40 + 25 * Math.sin(i / 9) + (i % 7) * 3);
  const failed = i % 11 === 0 ? 4 : i % 4 === 0 ? 1 : 0;
  return { thumbed, skipped: i % 5 === 0 ? 6 : 1 + (i % 3), failed, retries: failed > 0 ? 1 : 0, bytesIn: thumbed * 180_000 + i * 1_000, bytesOut: thumbed * 27_000 };
}

function sum(minutes: ThroughputCounts[]): ThroughputCounts {
  const total: ThroughputCounts = { thumbed: 0, skipped: 0, failed: 0, retries: 0, bytesIn: 0, bytesOut: 0 };
  for (const m of minutes) for (const key of Object.keys(total) as Array<keyof ThroughputCounts>) total[key] += m[key];
  return total;
}

function engine(host: string, pid: number, alive: boolean, start: number, now: number, extra: Partial<SeenDaemon> = {}): SeenDaemon {
  return {
    version: 1,
    host,
    pid,
    mode: 'daemon',
    countries: ['uk', 'fr'],
    startedAt: new Date(start).toISOString(),
    updatedAt: new Date(alive ? now - 1_000 : now - 5_400_000).toISOString(),
    queued: { incoming: 240, downloaded: 17, active: 16, waiting: 48 },
    stats: { thumbed: 18_342, skipped: 2_210, failed: 61, retries: 75, spilled: 0, batches: 31, stuck: 0, failuresByCode: { http_404: 40 } },
    paused: [],
    disk: [],
    alive,
    ...extra,
  };
}

/** The report of the daemon's n-th answer: the queue moves between answers, the rest stays. */
function makeReport(n: number, clock: number, thumbnails: Thumbnail[]): StatusReport {
  const now = clock + n * 500;
  const lastMinute = Math.floor(now / 60_000) * 60_000;
  const counts: StatusReport['counts'] = {
    uk: { incoming: 240 + 13 * n, downloaded: 17 + (n % 5), thumbed: 48_210 + 31 * n, failed: 54 },
    fr: { incoming: 8 * n, downloaded: 0, thumbed: 9_120 + 5 * n, failed: 7 },
  };
  const totals = { incoming: 0, downloaded: 0, thumbed: 0, failed: 0 };
  for (const row of Object.values(counts)) for (const state of STATES) totals[state] += row[state];
  const minutes = Array.from({ length: MINUTES }, (_, i) => ({ t: new Date(lastMinute - (MINUTES - 1 - i) * 60_000).toISOString(), ...minuteCounts(i) }));
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    spool: '/srv/imagesys/spool',
    tree: '/srv/imagesys/tree',
    at: iso(now),
    counts,
    totals,
    batches: n % 3,
    oldest: { country: 'uk', state: 'incoming', job: '9b1c77e0a4d2f6e1.job', ageSeconds: 1_800 + n },
    // a big spool: the oldest job and the failure reasons come from samples (the page says so)
    oldestOf: Math.floor((totals.incoming + totals.downloaded) / 2),
    failuresRead: Math.floor(totals.failed / 2),
    failures: [
      {
        code: 'http_404',
        count: 40,
        examples: [
          { url: 'https://img.example-agent.co.uk/p/1044/kitchen.jpg', error: 'HTTP 404 Not Found' },
          { url: SCRIPT_URL, error: 'HTTP 404 <b>Not Found</b>' },
        ],
      },
      {
        code: 'not_an_image',
        count: 14,
        examples: [
          { url: JS_URL, error: 'not an image: text/html' },
          { url: IMG_URL, error: 'invalid URL' },
        ],
      },
      { code: 'connect_timeout', count: 7, examples: [{ url: 'http://photos.slow-agent.example/x/51.jpg', error: 'connect timeout after 10000 ms' }] },
    ],
    disk: [
      { path: '/srv/imagesys/spool', freeBytes: 1_320 * 2 ** 30, totalBytes: 2_000 * 2 ** 30 },
      { path: '/srv/imagesys/tree', freeBytes: 180 * 2 ** 30, totalBytes: 1_800 * 2 ** 30 },
    ],
    engines: [
      engine('thumbs-a', 4242, true, now - 26 * 3_600_000, now, { http: 'http://thumbs-a:9464/' }),
      engine('thumbs-b', 977, false, now - 50 * 3_600_000, now),
    ],
    paused: [
      { source: 'host:photos.slow-agent.example', until: iso(now + 240_000), failures: 9, attempts: 10, strikes: 2, lastFailure: 'connect_timeout', engine: 'thumbs-a~4242' },
      { source: 'datasource:uk/16', until: iso(now + 600_000), failures: 31, attempts: 40, strikes: 1, lastFailure: 'http_404', engine: 'thumbs-a~4242' },
    ],
    downloadsPaused: [],
    targets: [
      { target: 'web1', lagSeconds: 42, backlog: 0, lastLevelAt: iso(now - 42_000), lastAttemptAt: iso(now - 42_000), lastSeconds: 3.2, sentTotal: 91_000, deletedTotal: 1_200, behindTotal: 0, seeding: false },
      { target: 'web2', lagSeconds: 5_400, backlog: 1_834, lastLevelAt: iso(now - 5_400_000), lastAttemptAt: iso(now - 60_000), lastSeconds: 15.1, lastError: 'rsync exited 10: connection refused by web2:873', sentTotal: 88_000, deletedTotal: 1_100, behindTotal: 14, seeding: false },
    ],
    throughput: { minutes, last5Minutes: sum(minutes.slice(-5)), lastHour: sum(minutes.slice(-60)) },
    latest: thumbnails.map((t) => t.entry),
    pages: ['http://thumbs-a:9464/'],
    refreshSeconds: 0.5,
    classes: { photo: 57_120 + 30 * n, placeholder: 212, duplicate: 1_804 + n },
    canary: [
      { target: 'local', ok: true, droppedAt: iso(now - 120_000), seconds: 1.5 + n, timings: { intake: 0.5, download: 0.25, thumbnail: 0.75 + n, sync: {} }, lastSuccessAt: iso(now - 118_000) },
      { target: 'web1', ok: true, droppedAt: iso(now - 120_000), seconds: 61.5 + n, timings: { intake: 0.5, download: 0.25, thumbnail: 0.75 + n, sync: { web1: 60 } }, lastSuccessAt: iso(now - 58_000) },
      { target: 'web2', ok: false, droppedAt: iso(now - 120_000), failure: { stage: 'sync', target: 'web2', reason: 'rsync could not list it: exit 10' }, timings: { intake: 0.5, download: 0.25, thumbnail: 0.75 + n, sync: {} }, lastSuccessAt: iso(now - 3_600_000) },
    ],
  };
}

/** The daemon's part: the page, its JSON (a new report each time) and the tree. */
async function startFakeDaemon(thumbnails: Thumbnail[]) {
  const clock = Date.now();
  const reports = new Map<string, StatusReport>();
  const state = { answers: 0, failing: false, pageLoads: 0 };
  const files = new Map(thumbnails.flatMap((t) => [...t.files]));
  const send = (res: ServerResponse, status: number, type: string, body: string | Buffer): void => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://daemon').pathname;
    if (path === '/') {
      state.pageLoads++;
      return send(res, 200, 'text/html; charset=utf-8', STATUS_PAGE_HTML);
    }
    if (path === '/api/status') {
      if (state.failing) return send(res, 500, 'text/plain', 'status unavailable');
      const report = makeReport(++state.answers, clock, thumbnails);
      reports.set(report.at, report);
      return send(res, 200, 'application/json', JSON.stringify(report));
    }
    const file = path.startsWith('/tree/') ? files.get(decodeURIComponent(path.slice('/tree/'.length))) : undefined;
    if (file) return send(res, 200, file.type, file.bytes);
    return send(res, 404, 'text/plain', 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, reports, state, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** Everything the page shows that the test checks, read in one go (so from one report). */
interface Shown {
  at: string;
  counts: Record<string, string>;
  totals: Record<string, string>;
  batches: string | null;
  oldestAge: string | null;
  rates: Record<string, { value: string; text: string }>;
  failures: Array<{ code: string; count: string; examples: Array<{ tag: string; url: string; href: string | null }> }>;
  paused: string[];
  targets: Array<{ name: string; lag: string; backlog: string; error: string }>;
  disk: Array<{ path: string; free: string }>;
  engines: Array<{ id: string; alive: string }>;
  state: string;
  errorHidden: boolean;
  /** The "images by class" card's text. */
  classes: string;
  canary: Array<{ target: string; ok: string; seconds: string; stage: string; text: string }>;
}

function readPage(): Shown {
  const all = (selector: string): Element[] => Array.from(document.querySelectorAll(selector));
  const attr = (el: Element | null, name: string): string | null => el?.getAttribute(name) ?? null;
  const text = (el: Element | null): string => el?.textContent ?? '';
  const keyed = (name: string): Record<string, string> => Object.fromEntries(all(`[${name}]`).map((el) => [el.getAttribute(name)!, text(el)]));
  return {
    at: attr(document.getElementById('updated'), 'data-updated') ?? '',
    counts: keyed('data-count'),
    totals: keyed('data-total'),
    batches: document.querySelector('[data-batches]')?.textContent ?? null,
    oldestAge: attr(document.querySelector('[data-oldest-age]'), 'data-oldest-age'),
    rates: Object.fromEntries(all('[data-rate]').map((el) => [el.getAttribute('data-rate')!, { value: el.getAttribute('data-value') ?? '', text: text(el) }])),
    failures: all('tr[data-failure-code]').map((row) => ({
      code: row.getAttribute('data-failure-code')!,
      count: text(row.querySelector('[data-failure-count]')),
      examples: Array.from(row.querySelectorAll('.example .url')).map((u) => ({ tag: u.tagName, url: text(u), href: u.getAttribute('href') })),
    })),
    paused: all('tr[data-paused]').map((row) => row.getAttribute('data-paused')!),
    targets: all('tr[data-target]').map((row) => ({ name: row.getAttribute('data-target')!, lag: row.getAttribute('data-lag')!, backlog: text(row.querySelector('[data-backlog]')), error: text(row.querySelector('.error')) })),
    disk: all('[data-disk]').map((row) => ({ path: row.getAttribute('data-disk')!, free: row.getAttribute('data-free')! })),
    engines: all('tr[data-engine]').map((row) => ({ id: row.getAttribute('data-engine')!, alive: row.getAttribute('data-alive')! })),
    state: attr(document.getElementById('state'), 'data-state') ?? '',
    errorHidden: document.getElementById('error')?.hidden ?? false,
    classes: text(document.querySelector('[data-glance="classes"]')),
    canary: all('tr[data-canary]').map((row) => ({ target: row.getAttribute('data-canary')!, ok: row.getAttribute('data-ok')!, seconds: row.querySelector('[data-canary-seconds]')?.getAttribute('data-canary-seconds') ?? '', stage: row.querySelector('[data-canary-stage]')?.getAttribute('data-canary-stage') ?? '', text: text(row) })),
  };
}

/** The page shows exactly `report`'s numbers. */
function assertShows(shown: Shown, report: StatusReport): void {
  const countries = Object.keys(report.counts);
  assert.is(Object.keys(shown.counts).length, countries.length * STATES.length, 'one cell per country and state');
  for (const country of countries) for (const state of STATES) assert.is(shown.counts[`${country}.${state}`], String(report.counts[country]![state]), `${country}.${state}`);
  for (const state of STATES) assert.is(shown.totals[state], String(report.totals[state]), `total ${state}`);
  assert.is(shown.batches, String(report.batches));
  assert.is(shown.oldestAge, String(report.oldest!.ageSeconds));
  for (const key of ['last5Minutes', 'lastHour'] as const) {
    for (const [field, value] of Object.entries(report.throughput[key])) {
      const cell = shown.rates[`${key}.${field}`];
      assert.ok(cell, `figure ${key}.${field} shown`);
      assert.is(cell.value, String(value), `${key}.${field}`);
      if (!field.startsWith('bytes')) assert.is(cell.text, String(value), `${key}.${field} as text`);
    }
  }
  assert.equal(
    shown.failures.map((f) => [f.code, f.count, f.examples.map((e) => e.url)]),
    report.failures.map((f) => [f.code, String(f.count), f.examples.map((e) => e.url)]),
    'failure reasons, counts and example URLs, literally',
  );
  for (const example of shown.failures.flatMap((f) => f.examples)) {
    const web = /^https?:\/\//.test(example.url);
    assert.is(example.tag, web ? 'A' : 'SPAN', `a link only for http(s): ${example.url}`);
    if (!web) assert.is(example.href, null);
  }
  assert.equal(shown.paused, report.paused.map((p) => p.source));
  assert.equal(
    shown.targets,
    report.targets.map((t) => ({ name: t.target, lag: t.lagSeconds === null ? '' : String(t.lagSeconds), backlog: String(t.backlog), error: t.lastError ?? '' })),
  );
  assert.equal(shown.disk, report.disk.map((d) => ({ path: d.path, free: String(d.freeBytes) })));
  assert.equal(shown.engines, report.engines.map((e) => ({ id: `${e.host}~${e.pid}`, alive: String(e.alive) })));
  assert.is(shown.state, 'running');
  const { photo, placeholder, duplicate } = report.classes;
  assert.is(shown.classes, `Images by class${formatCount(photo)}photos · ${formatCount(placeholder)} placeholders · ${formatCount(duplicate)} duplicates`);
  // the last canary per target: arrived with its time, or failed with the stage where it stopped
  assert.equal(
    shown.canary.map((c) => [c.target, c.ok, c.seconds, c.stage]),
    report.canary.map((c) => [c.target, String(c.ok), c.seconds === undefined ? '' : String(c.seconds), c.failure?.stage ?? '']),
  );
  const failed = report.canary.find((c) => !c.ok)!;
  assert.ok(shown.canary.find((c) => c.target === failed.target)!.text.includes(failed.failure!.reason), 'the reason shown');
}

test('the page is self-contained: no URL to anywhere, no external style or script', () => {
  assert.not.match(STATUS_PAGE_HTML, /https?:\/\//i, 'no absolute URL');
  const style = /<style>([\s\S]*?)<\/style>/.exec(STATUS_PAGE_HTML)?.[1] ?? '';
  assert.ok(style.length > 0, 'an inline style sheet');
  assert.not.match(style, /@import|url\(/i, 'no imported style, font or image');
  const markup = STATUS_PAGE_HTML.replace(/<style>[\s\S]*?<\/style>/, '').replace(/<script>[\s\S]*?<\/script>/, '');
  assert.not.match(markup, /\bsrc=|<link(?![^>]*href="data:,")/i, 'no loaded script, frame or style sheet');
  assert.is(STATUS_PAGE_HTML.match(/<script\b/g)?.length, 1, 'one inline script');
  assert.match(STATUS_PAGE_HTML, /Content-Security-Policy/);
});

const withBrowser = testsNeeding(test, browserMissing());

withBrowser('the status page in chromium: the numbers, the charts, escaping, thumbnails, refresh', async () => {
  const thumbnails = await makeThumbnails(Date.now());
  const daemon = await startFakeDaemon(thumbnails);
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().includes('500')) problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${daemon.origin}/`);
    await page.waitForFunction(() => document.getElementById('updated')?.getAttribute('data-updated') !== '');
    await page.evaluate(() => ((window as unknown as { loadedOnce: boolean }).loadedOnce = true));

    // the numbers of the report the page shows
    const first = await page.evaluate(readPage);
    const firstReport = daemon.reports.get(first.at);
    assert.ok(firstReport, `the page shows a report the daemon sent (${first.at})`);
    assertShows(first, firstReport);
    const hints = await page.evaluate(() => ({ failures: document.getElementById('failures-hint')?.textContent ?? '', oldest: document.querySelector('[data-oldest-age]')?.textContent ?? '' }));
    assert.ok(firstReport.failuresRead < firstReport.totals.failed && firstReport.oldestOf < firstReport.totals.incoming + firstReport.totals.downloaded, 'the fixture is a sampled report');
    assert.is(hints.failures, `from ${firstReport.failuresRead} of the ${firstReport.totals.failed} failed jobs, with examples`);
    assert.match(hints.oldest, new RegExp(`\\(the oldest of ${firstReport.oldestOf} looked at\\)$`));
    assert.ok(first.errorHidden, 'no error banner');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'fits 1280 px without scrolling sideways');

    // the charts drew the minutes
    const charts = await page.evaluate(() =>
      ['chart-images', 'chart-bytes'].map((id) => {
        const chart = document.getElementById(id)!;
        return {
          id,
          minutes: chart.getAttribute('data-minutes'),
          series: Array.from(chart.querySelectorAll('path.series')).map((p) => ({ name: p.getAttribute('data-series'), d: p.getAttribute('d') ?? '' })),
          xLabels: chart.querySelectorAll('text.xlabel').length,
          yLabels: chart.querySelectorAll('text.ylabel').length,
          height: chart.getBoundingClientRect().height,
        };
      }),
    );
    const [images, bytes] = charts;
    assert.equal(images!.series.map((s) => s.name), ['thumbed', 'skipped', 'failed']);
    assert.equal(bytes!.series.map((s) => s.name), ['bytesIn', 'bytesOut']);
    for (const chart of charts) {
      assert.is(chart.minutes, String(MINUTES), `${chart.id} drew every minute`);
      assert.ok(chart.series.every((s) => s.d.length > 0), `${chart.id}: every series drawn`);
      assert.ok(chart.xLabels >= 3 && chart.yLabels >= 3, `${chart.id} has axis labels`);
      assert.ok(chart.height > 100, `${chart.id} is visible`);
    }
    const bars = (name: string): number => images!.series.find((s) => s.name === name)!.d.split('M').length - 1;
    for (const name of ['thumbed', 'skipped', 'failed'] as const) {
      assert.is(bars(name), firstReport.throughput.minutes.filter((m) => m[name] > 0).length, `one ${name} bar per minute with ${name} images`);
    }
    const points = bytes!.series.find((s) => s.name === 'bytesIn')!.d.split(/[ML]/).length - 1;
    assert.is(points, MINUTES, 'one point per minute on the bytes line');

    // scraped text is text: shown literally, nothing of it runs or becomes markup
    const escaping = await page.evaluate((literal) => ({
      scripts: document.scripts.length,
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      injected: document.querySelectorAll('#failures-body script, #failures-body img, #failures-body b').length,
      shownLiterally: Array.from(document.querySelectorAll('.example .url')).some((el) => el.textContent === literal),
      errorText: Array.from(document.querySelectorAll('.example .error')).map((el) => el.textContent),
    }), SCRIPT_URL);
    assert.is(escaping.scripts, 1, 'only the page script');
    assert.is(escaping.pwned, undefined, 'no script from a URL ran');
    assert.is(escaping.injected, 0, 'no element made from scraped text');
    assert.ok(escaping.shownLiterally, 'the URL with <script> is shown as it is');
    assert.ok(escaping.errorText.includes('HTTP 404 <b>Not Found</b>'), 'error text shown literally');

    // the latest thumbnails, the smallest size of each, loaded from tree/
    await page.waitForFunction(() => {
      const imgs = Array.from(document.querySelectorAll<HTMLImageElement>('#latest img'));
      return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
    });
    const shownThumbs = await page.$$eval('#latest img', (imgs) => (imgs as HTMLImageElement[]).map((img) => ({ src: img.src, title: img.title, width: img.naturalWidth })));
    assert.equal(
      shownThumbs,
      thumbnails.map((t) => ({ src: `${daemon.origin}/tree/${t.entry.sizes.find((s) => s.name === 'thumb')!.path}`, title: t.entry.url, width: 160 })),
    );

    // it refreshes itself: a newer report with other counts, shown without reloading the page
    await page.waitForFunction((at) => document.getElementById('updated')?.getAttribute('data-updated') !== at, first.at);
    const second = await page.evaluate(readPage);
    const secondReport = daemon.reports.get(second.at);
    assert.ok(secondReport, 'a later report');
    assertShows(second, secondReport);
    assert.is.not(second.counts['uk.incoming'], first.counts['uk.incoming'], 'the counts changed on the page');
    assert.ok(await page.evaluate(() => (window as unknown as { loadedOnce?: boolean }).loadedOnce), 'the page was not reloaded');
    assert.is(daemon.state.pageLoads, 1);

    // the daemon stops answering: a banner, and the last numbers stay
    daemon.state.failing = true;
    await page.waitForFunction(() => document.getElementById('error')?.hidden === false);
    const during = await page.evaluate(readPage);
    const lastGood = daemon.reports.get(during.at);
    assert.ok(lastGood, 'still the last report');
    assertShows(during, lastGood);
    assert.match(await page.textContent('#error') ?? '', /HTTP 500/);
    daemon.state.failing = false;
    await page.waitForFunction((at) => document.getElementById('error')?.hidden === true && document.getElementById('updated')?.getAttribute('data-updated') !== at, during.at);
    const after = await page.evaluate(readPage);
    assertShows(after, daemon.reports.get(after.at)!);

    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#latest img')).every((img) => img.complete && img.naturalWidth > 0));
    const shot = await saveScreenshot(page, 'status-page.png');
    console.log(`screenshot: ${shot}`);

    const foreign = requests.filter((url) => !url.startsWith(`${daemon.origin}/`) && !url.startsWith('data:'));
    assert.equal(foreign, [], 'no request left the daemon');
    assert.ok(requests.filter((url) => url.endsWith('/api/status')).length >= 4, 'it polled');
    assert.equal(problems, [], 'no script error');
  } finally {
    await browser.close();
    await daemon.close();
  }
});

test.run();
