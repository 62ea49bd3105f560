/**
 * A real browser for the page tests: Debian's chromium driven by playwright-core (no browser download;
 * scripts/setup.sh installs chromium). This machine's network is closed, and chromium left to itself hangs on
 * background connections (component updates, sync, QUIC probes), hence the flags below.
 */
import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Flags for a headless chromium that makes no connection of its own. */
const CHROMIUM_ARGS = Object.freeze([
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]);

const LAUNCH_TIMEOUT_MS = 30_000;

/** The repository root (this file is test/support/browser.ts, compiled to dist/test/support/browser.js). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where tests leave what a person may want to look at (screenshots); ignored by git. */
export const TEST_OUTPUT_DIR = join(REPO_ROOT, 'test-output');

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** CHROMIUM_PATH if set, else /usr/bin/chromium, else `chromium` on PATH; undefined when none exists. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.CHROMIUM_PATH) return env.CHROMIUM_PATH;
  if (executable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, 'chromium');
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Why no browser test can run here (no chromium installed, none named by CHROMIUM_PATH), or undefined.
 * A chromium that is there but does not start, or a wrong CHROMIUM_PATH, is no reason to skip:
 * launchBrowser() then fails and says why.
 */
export function browserMissing(): string | undefined {
  if (chromiumPath()) return undefined;
  return 'no chromium is installed (scripts/setup.sh installs it) and CHROMIUM_PATH is not set';
}

/**
 * Chromium, headless, with a fresh temporary profile removed when the browser is closed. Playwright
 * refuses a `--user-data-dir` among the arguments of `launch()` because it makes that directory itself
 * (a new mkdtemp for every launch, deleted at `close()`), so it is not passed here.
 */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = chromiumPath();
  if (!executablePath) throw new Error(browserMissing() ?? 'no chromium');
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS], timeout: LAUNCH_TIMEOUT_MS });
}

/** Saves a full-page screenshot as test-output/<name> and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(TEST_OUTPUT_DIR, { recursive: true });
  const path = join(TEST_OUTPUT_DIR, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}
