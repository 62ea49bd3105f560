/**
 * The status page the daemon serves at `/`: one self-contained HTML document (inline CSS, inline
 * script, no external URL, no web fonts, no library), put together once, on first use, from the
 * files the build leaves beside this module: page.html (the markup), page.css, and the page's script, typed
 * browser code in client/ (its own tsconfig, with the DOM) linked into one inline script by
 * inline-script.ts. The script fetches `api/status` and re-renders in place (client/main.ts); every
 * text that comes from the report is set as text, never parsed as HTML. A Content-Security-Policy
 * meta tag allows only this script (by hash), this style sheet (by hash), same-origin fetches and
 * images.
 *
 * Hooks for tests (stable; "integer" means the element's text is the plain integer, e.g. `1234`):
 * - `#updated[data-updated]`        the shown report's `at` (empty until the first report).
 * - `#error`                        the fetch-error banner; has the `hidden` attribute while all is well.
 * - `#state[data-state]`            `running` | `not-running`; `#downloads-paused` is hidden unless paused.
 * - `#spool`, `#tree`               the paths (text).
 * - `[data-count="<country>.<state>"]`  integer: jobs of that country in that state.
 * - `[data-total="<state>"]`        integer: all countries together (the totals row).
 * - `[data-batches]`                integer: batch files waiting to be read.
 * - `[data-oldest-age]`             seconds (attribute) of the oldest waiting job; absent when none waits.
 * - `[data-rate="last5Minutes.<field>"]`, `[data-rate="lastHour.<field>"]`  the throughput figures,
 *                                   field one of thumbed skipped failed retries bytesIn bytesOut; each
 *                                   has `data-value` (the raw number); counts show the integer as text,
 *                                   bytes a human size.
 * - `svg#chart-images`, `svg#chart-bytes`  the charts; each drawn series is a `path.series` with
 *                                   `data-series` (thumbed skipped failed / bytesIn bytesOut) and a
 *                                   non-empty `d` when the series has any non-zero minute;
 *                                   `[data-minutes]` on the svg is how many minutes it drew.
 * - `tr[data-failure-code="<code>"]`  a failure reason; `[data-failure-count]` integer; each example
 *                                   is `.example` holding `.url` (an `a` for http/https URLs, else a
 *                                   `span`) and `.error`.
 * - `tr[data-paused="<source>"]`    a paused host or datasource.
 * - `tr[data-target="<name>"]`      a sweep target; `data-lag` attribute (seconds, empty when never
 *                                   level); `[data-backlog]` integer; `.error` its last error.
 * - `[data-disk="<path>"]`           a file system; `data-free`/`data-total` attributes in bytes.
 * - `tr[data-engine="<host>~<pid>"]`  an engine; `data-alive` `true` | `false`.
 * - `#latest img`                   the latest thumbnails (smallest size), `title` the source URL,
 *                                   `data-hash` the image hash.
 * - `[data-glance="<name>"]`        the summary cards (waiting, oldest, thumbed-hour, failed-hour,
 *                                   lag, paused); for reading, not for checking numbers.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inlineScript } from './inline-script.js';

export interface StatusPage {
  html: string;
  /** Also sent as a header by the server (a header can forbid framing, which the meta tag cannot). */
  csp: string;
}

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** Fills `{{name}}` in the template; each must occur exactly once. */
function fill(template: string, values: Record<string, string>): string {
  let html = template;
  for (const [name, value] of Object.entries(values)) {
    const parts = html.split(`{{${name}}}`);
    if (parts.length !== 2) throw new Error(`status page: page.html must hold {{${name}}} once, not ${parts.length - 1} times`);
    html = parts.join(value);
  }
  return html;
}

/** The document from its template, style sheet and script: only this page's own script and style; fetches and images from the daemon alone. Pure. */
export function assemblePage(template: string, style: string, script: string): StatusPage {
  if (script.toLowerCase().includes('</script') || style.toLowerCase().includes('</style')) throw new Error('status page: the inline script or style would end early');
  const csp = [`default-src 'none'`, `script-src ${sha256(script)}`, `style-src ${sha256(style)}`, `img-src 'self' data:`, `connect-src 'self'`, `base-uri 'none'`, `form-action 'none'`].join('; ');
  return { html: fill(template, { csp, style, script }), csp };
}

/** Reads the page's files from where the build puts them: beside this module. */
function loadStatusPage(): StatusPage {
  const here = dirname(fileURLToPath(import.meta.url));
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch (error) {
      throw new Error(`status page: cannot read ${path} (\`npm run build\` compiles and copies the page's files there): ${(error as Error).message}`, { cause: error });
    }
  };
  return assemblePage(read(join(here, 'page.html')), read(join(here, 'page.css')), inlineScript(join(here, 'client', 'main.js'), read));
}

let loaded: StatusPage | undefined;

/** The status page: one HTML document that needs nothing but `api/status` and `tree/...` from the daemon. */
export function statusPage(): StatusPage {
  loaded ??= loadStatusPage();
  return loaded;
}
