/**
 * Every config key, declared once: its default, its check and its one-line doc. The Config type, the
 * defaults, the parser and the README's config table (`npm run docs:config`) are all derived from this
 * table. Declaration order is the README's row order and the order of "one of the keys ..." in errors.
 */
import { availableParallelism } from 'node:os';
import type { BackoffPolicy } from '../core/backoff.js';
import type { ProcessDetails } from '../../workers/thumbnail-task.js';
import { defaultsOf, key, parsePartial, type ConfigOf } from './section.js';
import { countryOverrides, formatList, qualitySetting, sizeList } from './thumbnails.js';
import { targetList } from './target-list.js';
import {
  absoluteUrl, allowEntry, boolean, bytes, canarySource, colour, countryCode, countryList, durationMs, emailAddress, emailOrEmpty, headerValue, hostName, integer, listenAddress,
  mailRelay, nonEmptyString, number, oneOf, proxySetting, refine, stringList,
} from './validators.js';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
/** The levels a mail alert may start at. */
export const ALERT_LEVELS = ['warn', 'error', 'fatal'] as const;

/** `thumbnails.process`, apart because a country or a datasource overrides any part of it. */
const PROCESS = {
  quality: key(
    qualitySetting,
    75,
    'encoder quality: a number 1-100 (WebP q75 matches mozjpeg q80 in SSIM at ~27% fewer bytes on the listing photos), or `"auto"` / `{ "floor", "min", "max", "tries" }` to choose it per image and size: the lowest quality in `min`-`max` whose SSIM stays at or above `floor`, spending `tries` encodes on the search (and, if none reached the floor, up to 2 more upwards and one at `max`; defaults 0.95, 20, 95, 2; see [Auto quality](#auto-quality))',
  ),
  sharpen: key(number(0, 10), 0, 'Gaussian sharpen sigma after resizing (0: off)'),
  gamma: key(refine(number(0, 3), (g) => g === 0 || g >= 1, '0 (off) or a number from 1 to 3'), 0, 'gamma used while resizing (0: off, else 1-3, e.g. 2.2)'),
  background: key(colour, '#ffffff', 'colour that transparency is flattened onto'),
  effort: key(integer(0, 9), 2, 'encoder effort (WebP 0-6, AVIF 0-9); WebP effort 2 is 50% faster than 4 for 4% more bytes'),
};

export const SCHEMA = {
  spool: key(nonEmptyString, 'var/spool', 'spool root'),
  tree: key(nonEmptyString, 'var/tree', 'tree root (thumbnails and manifests)'),
  // the nine countries of the predecessor
  countries: key(countryList, ['br', 'it', 'fr', 'es', 'de', 'uk', 'in', 'au', 'mx'], 'countries the daemon watches and `status` lists (more appear as they are used)'),
  baseUrl: key(absoluteUrl, 'http://localhost:8080/thumbs', 'public URL of the tree root, from which the Interface builds URLs'),
  thumbnails: {
    sizes: key(
      sizeList,
      [
        { name: 'thumb', width: 120, height: 90 },
        { name: 'medium', width: 200, height: 150 },
        { name: 'large', width: 480, height: 360 },
      ],
      'each `{ "name", "width", "height" }`, fit inside, never upscaled',
    ),
    formats: key(formatList, ['webp'], 'one file per size and format: `webp`, `jpeg`, `avif`, `png`'),
    process: PROCESS,
    maxPixels: key(integer(1), 100_000_000, 'decoded pixels allowed per image (stops decompression bombs)'),
    countries: key(
      countryOverrides((raw, at) => parsePartial(PROCESS, raw, at)),
      {},
      'per listed country (`<cc>`) `sizes`, `formats`, `process`, and `datasources.<id>.process` overrides (the old `lis_datasource_process_details(\'uk\', 16)`): defaults < country < datasource',
    ),
  },
  classes: {
    placeholderUrls: key(
      integer(2, 1_000_000),
      20,
      'distinct URLs of one datasource (in one country) under which the same picture (perceptual hash within `classes.distance`) makes it a `placeholder`: a stock "no photo yet" or an agency logo; each earlier one is reclassed too ([Image classes](#image-classes))',
    ),
    distance: key(integer(0, 3), 3, 'bits in which two 64-bit perceptual hashes may differ and be the same picture (near-copies, re-encoded or slightly resized, differ in 0-3 on the listing photos, crops of 1-2% in 0-8; different photos in more than 12: bench/README.md)'),
  },
  canary: {
    intervalMinutes: key(
      refine(number(0, 1_440), (m) => m === 0 || m >= 0.05, '0 (off) or at least 0.05 (3 s)'),
      10,
      'every this often one engine of the spool drops a canary: a fresh image through the whole path (a batch in incoming/, the downloader, the pool, the tree, the sweeper), checked on every target with rsync (0: off; [Canary](#canary))',
    ),
    deadlineMinutes: key(number(0.05, 1_440), 15, 'a canary not found on every target this long after it was dropped has failed, at the stage and target where it stopped (allow for the cron period of `imagesys sweep`)'),
    country: key(countryCode, 'zz', 'the country canaries are made in: a country of their own, not in `countries`, which the Interface never serves and the daemon and the sweeper take on by themselves'),
    source: key(
      canarySource,
      'self',
      "where canaries are downloaded from: `self`, this daemon's own HTTP server (`http.listen`), or the `http://address:port` of another ImageSys daemon (an IP address: the exception is made for that address); the SSRF guard lets through that one address and port, for a canary's own path only",
    ),
  },
  pool: {
    threads: key(integer(1, 256), availableParallelism(), 'sharp worker threads (each runs one libvips thread)', 'core count'),
    tasksPerThread: key(integer(1, 16), 2, "images a thread works on at once (sharp's calls are asynchronous: two keep a core busy)"),
    spillAfterMs: key(durationMs(0), 2_000, 'a downloaded image waits this long in memory for a thread; then its original goes to `downloaded/` and the download slot is freed'),
    memoryBudgetMiB: key(
      integer(1, 1_048_576),
      64,
      'originals held in memory at once, in MiB: being downloaded (by Content-Length), waiting for a thread or in one. Past it a download waits before its body and a downloaded original waits on disk in `downloaded/`; one original larger than the budget goes alone. 64 fits 2 threads of camera photos; allow about 24 per thread (see [Memory](#memory))',
    ),
    nice: key(integer(0, 19), 0, 'niceness for the engine and its sharp threads (0: unchanged)'),
    threadNice: key(
      integer(0, 19),
      5,
      "niceness the sharp threads (libvips' and the pool's) get on top of the engine's own (`pool.nice`, or what the process was started with), on Linux: the event loop that feeds them then never waits for a core behind them (0: the same as the engine; the sum stops at 19; never raises a thread's priority)",
    ),
  },
  download: {
    concurrency: key(integer(1, 4096), 32, 'downloads at once, all hosts'),
    perHost: key(integer(1, 1024), 4, 'downloads at once per host (host:port)'),
    perHostRate: key(
      number(0, 10_000),
      10,
      'request starts per second to one host (0: no limit); a 429 or 503 with `Retry-After` pauses the whole host until then (at most `health.maxCoolOffMs`; a Retry-After over 6 h counts as 6 h)',
    ),
    connectTimeoutMs: key(durationMs(1), 10_000, 'time allowed to connect'),
    headersTimeoutMs: key(durationMs(1), 15_000, 'time allowed for the response headers'),
    bodyTimeoutMs: key(durationMs(1), 30_000, 'time allowed between two chunks of the body'),
    totalTimeoutMs: key(durationMs(1), 120_000, 'time allowed for the whole download, all redirects included (a wait for `pool.memoryBudgetMiB` does not count)'),
    maxBytes: key(bytes(1), 32 * 1024 * 1024, 'body limit, by Content-Length and while streaming'),
    maxRedirects: key(integer(0, 20), 5, 'redirects followed, each hop checked'),
    userAgent: key(headerValue, 'ImageSys/0.1 (+thumbnailer)', 'sent with every request (printable ASCII)'),
    allow: key(
      stringList(allowEntry),
      [],
      "the SSRF guard's exceptions: host names as written in URLs (`images.internal`) and addresses or ranges (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`) that downloads may reach although they are loopback, private, link-local, CGNAT, unspecified, multicast or reserved; anything else (`10.0.0.0/`, a stray space) is refused at start. A name passes only if every address it resolves to is allowed (localhost may also be `::1`). The demo and the tests list `127.0.0.1`",
    ),
    proxy: key(
      proxySetting,
      'env',
      'an `http://` proxy URL for all downloads, `env` to follow `HTTP_PROXY` / `HTTPS_PROXY` / `NO_PROXY`, or `none`; `run --noproxy` is `none` for one run. Through a proxy, plain http is forwarded and https tunnelled; the SSRF guard resolves each name itself before the request, so this host needs DNS for the source names; the proxy resolves them again, and a name that changes its answer in between (DNS rebinding) is a limit of any proxied client: give the proxy a destination ACL as well',
    ),
  },
  retry: {
    maxAttempts: key(integer(1, 100), 5, 'attempts before a transient failure becomes final'),
    baseMs: key(durationMs(0), 30_000, 'backoff before the second attempt: base x factor^(n-1), capped, times a random factor in [1-jitter, 1+jitter)'),
    maxMs: key(durationMs(0), 3_600_000, 'ceiling for any backoff (at least `baseMs`)'),
    factor: key(number(1, 100), 4, 'backoff growth per attempt'),
    jitter: key(number(0, 1), 0.5, 'share of the backoff that is randomised (0: none), so that an outage does not make every job due at once'),
  },
  claims: {
    staleMs: key(durationMs(2_000), 15_000, "a claim not refreshed for this long (its engine died) is taken over; its age is judged by the spool file system's time, whatever the engines' clocks say"),
    clockWarnMs: key(durationMs(0), 2_000, "the engine logs a warning while its clock is further than this from the spool file system's (measured at start and every `disk.checkMs`; shown by `status`, the page and /metrics)"),
    clockRefuseMs: key(durationMs(0), 300_000, "the engine does not start while its clock is further than this from the spool file system's (claims are safe at any offset; job times, retries and history are not): fix NTP (at least `clockWarnMs`)"),
  },
  intake: {
    settleMs: key(durationMs(0), 2_000, 'a plain-written batch is read once its size and mtime were unchanged this long'),
    rescanMs: key(durationMs(100), 30_000, 'full rescan of the spool, for what the watcher missed'),
    queueLimit: key(integer(1), 2_000, 'job names held in memory per stage; scans wait when it is full; one host may hold a quarter of it'),
    allowCredentials: key(boolean, false, 'accept URLs with `user:password@` (else `invalid_url`); they are sent as Basic auth and never shown (the job in the spool keeps them; the manifest, the status page and the logs do not)'),
  },
  health: {
    windowMs: key(durationMs(1_000), 300_000, 'failures are counted over this sliding window, per host (host:port) and per datasource (`<cc>/<id>`)'),
    minSamples: key(integer(1), 20, 'attempts in the window before a failure rate is judged at all'),
    failureRate: key(number(0.01, 1), 0.5, 'share of transient failures at which a host or a datasource is paused'),
    coolOffMs: key(durationMs(100), 60_000, "a paused source's jobs wait this long; then one job probes it; each failed probe doubles the pause"),
    maxCoolOffMs: key(durationMs(100), 1_800_000, 'the longest pause (at least `coolOffMs`)'),
    stuckMs: key(
      durationMs(1_000),
      900_000,
      'a job in progress that made no progress for this long (time spent waiting for a download slot or a thread does not count) is aborted, its download or thumbnail cancelled, and retried with code `stuck`; one that ignores the abort is abandoned after another `min(stuckMs, 30 s)`: its slot is freed, its claim kept until the engine restarts (it might still move the job)',
    ),
  },
  disk: {
    minFreeMiB: key(integer(0), 1_024, "below this free space on the spool's or the tree's file system, downloads pause (the thumbnail stage goes on, which frees the spool); they resume above it"),
    checkMs: key(durationMs(100), 10_000, 'how often free space is checked'),
  },
  fsync: key(boolean, true, 'fsync files and directories on every atomic write and move'),
  sweep: {
    targets: key(
      targetList,
      [],
      'the frontends: `{ "name": "n1", "dest": ... }` with dest a local directory, `host:/path` (rsync over ssh, `BatchMode`) or `rsync://host:port/module/path`; optional `bwlimitKiB` per target',
    ),
    purgeAfterDays: key(number(0, 36_500), 30, 'images whose files were not refreshed for this long are purged everywhere'),
    timeoutSeconds: key(integer(1, 86_400), 120, 'rsync `--timeout`: a target that stalls this long is given up for this run'),
    connectTimeoutSeconds: key(integer(1, 3_600), 15, 'rsync `--contimeout` (daemon targets) / ssh `ConnectTimeout`: an unreachable target is given up for this run'),
    bwlimitKiB: key(integer(0), 0, 'rsync `--bwlimit` for every target, in KiB/s (0: none), to be gentle with the frontends'),
    batchSize: key(integer(1), 20_000, 'paths per rsync run'),
    rsync: key(nonEmptyString, 'rsync', 'the rsync program'),
  },
  log: {
    level: key(oneOf(LOG_LEVELS), 'info', '`trace`, `debug`, `info`, `warn`, `error`, `fatal` or `silent`; `--verbose` sets `debug`'),
    dir: key(nonEmptyString, 'var/log', 'with `--daemon`, `<component>.log` and `<component>.error.log` are written here'),
    maxMiB: key(number(0.001, 1_048_576), 64, 'a log file is rotated before it would grow past this size (and at midnight UTC)'),
    keep: key(integer(1, 10_000), 10, 'rotated files kept per log file; older ones are deleted'),
  },
  alert: {
    email: {
      to: key(stringList(emailAddress), [], "recipients of the daemon's mail alerts (`ops@example.com`); empty: no mail. The sweeper never mails: cron mails its output (see [Mail alerts](#mail-alerts))"),
      from: key(emailOrEmpty, '', "the sender; `''` for `imagesys@<this host's name>`"),
      level: key(oneOf(ALERT_LEVELS), 'error', 'log lines at or above this level are mailed: `warn`, `error` or `fatal` (whatever `log.level` says)'),
      smtp: key(mailRelay, 'sendmail', '`sendmail` hands the mail to the local `sendmail` program (found on PATH, as Postfix and Exim install it); else a relay, `smtp://host:25`, `smtp://user:password@host:587` (STARTTLS when offered) or `smtps://host:465`'),
    },
    minIntervalMinutes: key(
      number(0.01, 1_440),
      10,
      "at most one mail per this many minutes: it counts the lines per message and shows the first examples; the first mail goes `min(30 s, interval)` after a quiet spell's first line. A mail that cannot be sent is logged (not mailed) and its lines go with the next one",
    ),
  },
  http: {
    listen: key(
      listenAddress,
      '127.0.0.1:9464',
      "where the daemon serves its status page (`/`), `/api/status` and Prometheus `/metrics`; `''` turns it off, port 0 takes any free port (`imagesys status` says which). If the address is taken the daemon logs an error and runs on without it",
    ),
    refreshSeconds: key(
      number(0.2, 3_600),
      10,
      'the status page refreshes itself this often, and the spool is counted again for it and `/metrics` when the last count is older than this (see [Status page and metrics](#status-page-and-metrics))',
    ),
    allowedHosts: key(
      stringList(hostName),
      [],
      "Host header names the status server answers besides its listen address, localhost, 127.0.0.1, ::1 and this machine's name (anything else gets 421: a DNS-rebinding page reads nothing); needed when it listens on 0.0.0.0 and is reached by another name or address (Prometheus scraping the machine by its IP: list that IP)",
    ),
  },
};

/** A whole config: what parseConfig returns, typed by the schema. */
export type Config = ConfigOf<typeof SCHEMA>;

/** Every key's default: a daemon with no config file runs on ./var. */
export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze(defaultsOf(SCHEMA));

/** True when A and B are the same type; a `false` below fails the build. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** The contracts other modules declare, checked against the schema at compile time so the two cannot drift. */
export type SchemaMatchesContracts = [
  Expect<Same<Config['thumbnails']['process'], ProcessDetails>>,
  Expect<Same<Omit<Config['retry'], 'maxAttempts'>, BackoffPolicy>>,
];
type Expect<T extends true> = T;
