/**
 * What the daemon shows of itself: the metrics its stages feed, and the HTTP server with the status
 * page. The spool's contents are counted for both by one cached report (engine/observe/http-server.ts).
 */
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { cachedReport, startHttpServer, type RunningHttpServer } from './http-server.js';
import { Metrics, type LiveFigures } from './metrics.js';
import { gatherStatus, statusSource, type StatusReport } from './status.js';

export class Observability {
  readonly metrics: Metrics;
  private readonly report: () => Promise<StatusReport>;
  private server: RunningHttpServer | undefined;

  constructor(private readonly config: Config, countries: readonly string[], live: () => LiveFigures, private readonly log: Logger) {
    const warn = (error: unknown): void => log.warn({ err: error }, 'status report could not be made; the last one is shown');
    this.report = cachedReport(() => gatherStatus(statusSource(config, countries)), config.http.refreshSeconds * 1000, warn);
    this.metrics = new Metrics({
      countries,
      live,
      // counters and engine gauges are served even when the spool cannot be read
      spool: () => this.report().then(({ counts, batches, targets, canary }) => ({ counts, batches, targets, canary }), () => ({ counts: {}, batches: 0, targets: [], canary: [] })),
    });
  }

  /**
   * Starts the HTTP server on http.listen; returns its URL, or undefined when it is turned off or
   * cannot listen (the daemon runs on without it: its work matters more than its page).
   */
  async serve(): Promise<string | undefined> {
    const { log } = this;
    if (!this.config.http.listen) return undefined;
    try {
      this.server = await startHttpServer({ listen: this.config.http.listen, allowedHosts: this.config.http.allowedHosts, metrics: this.metrics, status: this.report, tree: this.config.tree, spool: this.config.spool, log });
      return this.server.url;
    } catch (error) {
      log.error({ err: error, listen: this.config.http.listen }, 'status page and /metrics not served: cannot listen there (http.listen)');
      return undefined;
    }
  }

  async close(): Promise<void> {
    await this.server?.close();
  }
}
