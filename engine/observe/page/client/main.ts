/**
 * The status page's script: fetches `api/status` (relative, so the page also works behind a path
 * prefix) on load and again every `refreshSeconds` of the last report, and re-renders in place; a
 * failed fetch shows a banner and keeps the last data. The page's hooks for tests are listed in
 * engine/observe/page/status-page.ts.
 */
import type { StatusReport } from '../../status.js';
import { byId, h } from './dom.js';
import { renderCanary } from './canary.js';
import { renderGlance, renderHeader } from './header.js';
import { renderLatest } from './latest.js';
import { renderDisk, renderEngines, renderFailures, renderPaused, renderQueue, renderTargets } from './tables.js';
import { renderThroughput } from './throughput.js';
import { clock } from './time.js';

/** Until a report says otherwise. */
const DEFAULT_REFRESH_MS = 10_000;
const FETCH_TIMEOUT_MS = 15_000;

function render(r: StatusReport): void {
  renderHeader(r);
  renderGlance(r);
  renderQueue(r);
  renderThroughput(r);
  renderFailures(r);
  renderPaused(r);
  renderTargets(r);
  renderCanary(r);
  renderDisk(r);
  renderEngines(r);
  renderLatest(r);
}

let last: StatusReport | undefined;
let refreshMs = DEFAULT_REFRESH_MS;

function showError(message: string): void {
  const banner = byId('error');
  banner.hidden = false;
  banner.replaceChildren(
    h('strong', {}, `${clock(new Date().toISOString())}: `),
    message,
    last ? ` Showing the data of ${clock(last.at)}; retrying every ${refreshMs / 1000}s.` : ` Retrying every ${refreshMs / 1000}s.`,
  );
}

async function refresh(): Promise<void> {
  let report: StatusReport;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  try {
    const response = await fetch('api/status', { cache: 'no-store', headers: { accept: 'application/json' }, signal: abort.signal });
    if (!response.ok) throw new Error(`the daemon answered HTTP ${response.status}`);
    report = (await response.json()) as StatusReport;
  } catch (error) {
    showError(`Could not load the status (${error instanceof Error ? error.message : String(error)}).`);
    return;
  } finally {
    clearTimeout(timer);
  }
  try {
    render(report);
    last = report;
    if (typeof report.refreshSeconds === 'number' && report.refreshSeconds > 0) refreshMs = report.refreshSeconds * 1000;
    byId('error').hidden = true;
  } catch (error) {
    showError(`Could not show the status (${error instanceof Error ? error.message : String(error)}).`);
  }
}

async function loop(): Promise<void> {
  await refresh();
  setTimeout(() => void loop(), refreshMs);
}

let resizing: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('resize', () => {
  clearTimeout(resizing);
  resizing = setTimeout(() => {
    if (last) renderThroughput(last);
  }, 150);
});
void loop();
