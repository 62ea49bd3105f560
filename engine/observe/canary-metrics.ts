/**
 * The canary's metrics: what the engine that checked a canary heard (its latency to each target, its
 * failures by stage), and what every engine of the spool reads from the canaries' records (the last
 * success per target), so that each serves the same figure whichever engine sent the canary.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { CanaryObserver } from '../canary/canary.js';
import type { CanaryStage, TargetCanary } from '../canary/record.js';

/** From seconds (the local tree) to an hour (a sweeper run by cron every few minutes, a slow target). */
const LATENCY_BUCKETS = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1_800, 3_600];

export class CanaryMetrics implements CanaryObserver {
  private readonly latency: Histogram<'target'>;
  private readonly failures: Counter<'stage' | 'target'>;

  constructor(registers: Registry[], canaries: () => Promise<TargetCanary[]>) {
    this.latency = new Histogram({ name: 'imagesys_canary_latency_seconds', help: "Seconds from a canary's drop into incoming/ to its arrival, per target (`local`: the tree), canaries checked by this engine", labelNames: ['target'], buckets: LATENCY_BUCKETS, registers });
    this.failures = new Counter({ name: 'imagesys_canary_failures_total', help: 'Canaries that did not arrive by canary.deadlineMinutes, by the stage where they stopped and the target (`local`: before the tree), checked by this engine', labelNames: ['stage', 'target'], registers });
    new Gauge({
      name: 'imagesys_canary_last_success_timestamp_seconds',
      help: 'When a canary last arrived on the target (`local`: in the tree), any engine of the spool (0: none of the recorded canaries did)',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const c of await canaries()) this.set({ target: c.target }, c.lastSuccessAt ? Date.parse(c.lastSuccessAt) / 1000 : 0);
      },
    });
    new Gauge({
      name: 'imagesys_canary_ok',
      help: 'Whether the last canary checked arrived on the target (1) or failed there (0)',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const c of await canaries()) this.set({ target: c.target }, c.ok ? 1 : 0);
      },
    });
  }

  canaryArrived(target: string, seconds: number): void {
    this.latency.observe({ target }, seconds);
  }

  canaryFailed(stage: CanaryStage, target: string): void {
    this.failures.inc({ stage, target });
  }
}
