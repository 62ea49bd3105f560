import type { ErrorCode } from '../engine/core/errors.js';
import { ImageSysError } from '../engine/core/errors.js';
import { hashForUrl, hasCredentials } from '../engine/core/hash.js';
import { DATASOURCE_PATTERN, LIMITS } from './limits.js';

/** What the source said about the original, kept for conditional GETs and the manifest. */
export interface SourceInfo {
  bytes: number;
  format: string;
  etag?: string;
  lastModified?: string;
}

/** One image to make: the content of `<hash>.job`. */
export interface Job {
  url: string;
  hash: string;
  country: string;
  datasource?: string;
  /** Failed attempts so far. */
  attempts: number;
  createdAt: string;
  updatedAt: string;
  /** Earliest time of the next attempt (backoff). */
  notBefore?: string;
  /** Download again even if the tree has the image (conditional GET). */
  refresh?: boolean;
  /** In thumbed/: the image was only refreshed, long after it was made; the sweeper has nothing to send. */
  unchanged?: boolean;
  /** The last failure: stable code and a one-line reason. */
  errorCode?: ErrorCode;
  error?: string;
  source?: SourceInfo;
}

export interface NewJobInput {
  url: string;
  country: string;
  datasource?: string;
  refresh?: boolean;
}

/** What intake accepts beyond a well-formed http(s) URL. */
export interface IntakePolicy {
  /** URLs with `user:password@` are refused unless this is set (config `intake.allowCredentials`). */
  allowCredentials: boolean;
}

export const STRICT_INTAKE: IntakePolicy = Object.freeze({ allowCredentials: false });

/**
 * Refuses, as invalid_url with the reason, what must not become a job: a URL over LIMITS.urlLength,
 * one that carries credentials (unless allowed), a datasource id that is not 1-64 of `A-Za-z0-9_.-`.
 * Pure; the URL's syntax is checked by hashForUrl.
 */
export function checkJobInput(input: NewJobInput, policy: IntakePolicy): void {
  const url = input.url.trim();
  if (url.length > LIMITS.urlLength) throw new ImageSysError('invalid_url', `a URL of ${url.length} characters is longer than the ${LIMITS.urlLength} allowed`);
  if (input.datasource !== undefined && !DATASOURCE_PATTERN.test(input.datasource)) {
    throw new ImageSysError('invalid_url', `datasource id ${JSON.stringify(input.datasource.slice(0, 80))} is not 1-${LIMITS.datasourceLength} letters, digits, _ - or .`);
  }
  hashForUrl(url);
  const refused = credentialsRefusal(url, policy);
  if (refused) throw refused;
}

/** The refusal of a URL that carries credentials when the policy does not allow them (batch lines and hand-written jobs alike). */
export function credentialsRefusal(url: string, policy: IntakePolicy): ImageSysError | undefined {
  if (policy.allowCredentials || !hasCredentials(url)) return undefined;
  return new ImageSysError('invalid_url', 'the URL carries credentials (user:password@host): refused unless intake.allowCredentials is true');
}

/** The host (host:port, as the downloader counts its slots) a URL is fetched from; undefined if none. Pure. */
export function sourceHostOf(url: string): string | undefined {
  try {
    return new URL(url.trim()).host || undefined;
  } catch {
    return undefined;
  }
}

/** A job's line in the arrival log: its file name and its source host. */
export function arrivalOf(job: Pick<Job, 'hash' | 'url'>): { name: string; host?: string } {
  const host = sourceHostOf(job.url);
  return host ? { name: `${job.hash}.job`, host } : { name: `${job.hash}.job` };
}

export function newJob(input: NewJobInput, now: Date): Job {
  const at = now.toISOString();
  const job: Job = { url: input.url.trim(), hash: hashForUrl(input.url), country: input.country, attempts: 0, createdAt: at, updatedAt: at };
  if (input.datasource) job.datasource = input.datasource;
  if (input.refresh) job.refresh = true;
  return job;
}

/** Readable JSON, one key per line, so that `cat` and `grep` work on the spool. */
export function encodeJob(job: Job): string {
  return `${JSON.stringify(job, null, 2)}\n`;
}

function optionalString(value: unknown, key: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ImageSysError('bad_job', `job field ${key} must be a string`);
  return value;
}

/**
 * Parses a job file. Only `url` is required, so a job written by hand is valid; the country comes from
 * the directory and the hash is always recomputed from the URL (a misnamed file is renamed by the caller).
 */
export function decodeJob(text: string, country: string, now: Date): Job {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ImageSysError('bad_job', 'job file is not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ImageSysError('bad_job', 'job file is not a JSON object');
  const r = raw as Record<string, unknown>;
  if (typeof r.url !== 'string' || r.url.trim() === '') throw new ImageSysError('bad_job', 'job has no url');
  const at = now.toISOString();
  const attempts = typeof r.attempts === 'number' && Number.isInteger(r.attempts) && r.attempts >= 0 ? r.attempts : 0;
  const job: Job = {
    url: r.url.trim(),
    hash: hashForUrl(r.url),
    country,
    attempts,
    createdAt: optionalString(r.createdAt, 'createdAt') ?? at,
    updatedAt: optionalString(r.updatedAt, 'updatedAt') ?? at,
  };
  if (job.url.length > LIMITS.urlLength) throw new ImageSysError('bad_job', `its url of ${job.url.length} characters is longer than the ${LIMITS.urlLength} allowed`);
  if (r.datasource !== undefined && r.datasource !== null && r.datasource !== '') {
    const datasource = typeof r.datasource === 'number' && Number.isInteger(r.datasource) ? String(r.datasource) : r.datasource;
    if (typeof datasource !== 'string' || !DATASOURCE_PATTERN.test(datasource)) {
      throw new ImageSysError('bad_job', `job field datasource must be an id of 1-${LIMITS.datasourceLength} letters, digits, _ - or .`);
    }
    job.datasource = datasource;
  }
  const notBefore = optionalString(r.notBefore, 'notBefore');
  if (notBefore) job.notBefore = notBefore;
  if (r.refresh === true) job.refresh = true;
  if (r.unchanged === true) job.unchanged = true;
  const errorCode = optionalString(r.errorCode, 'errorCode');
  if (errorCode) job.errorCode = errorCode as ErrorCode;
  const error = optionalString(r.error, 'error');
  if (error) job.error = error;
  if (typeof r.source === 'object' && r.source !== null) job.source = r.source as SourceInfo;
  return job;
}

/** One line of a batch file: `URL` or `URL<TAB>datasource`. Blank lines and `#` comments are skipped. */
export function parseBatchLine(line: string): { url: string; datasource?: string } | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  const [url = '', datasource] = trimmed.split('\t').map((part) => part.trim());
  return datasource ? { url, datasource } : { url };
}

/** The job after a failed attempt: retried later, or failed for good. */
export function withFailure(job: Job, error: { code: ErrorCode; message: string }, now: Date, retryAt?: Date): Job {
  const next: Job = { ...job, attempts: job.attempts + 1, updatedAt: now.toISOString(), errorCode: error.code, error: oneLine(error.message) };
  if (retryAt) next.notBefore = retryAt.toISOString();
  else delete next.notBefore;
  return next;
}

/**
 * The job as it rests in thumbed/: its retry state dropped; `unchanged` when only its files' mtimes
 * were refreshed (the sweeper may skip it). Pure.
 */
export function withSuccess(job: Job, now: Date, unchanged: boolean): Job {
  const done: Job = { ...job, attempts: 0, updatedAt: now.toISOString() };
  if (unchanged) done.unchanged = true;
  else delete done.unchanged;
  delete done.notBefore;
  delete done.errorCode;
  delete done.error;
  delete done.refresh;
  return done;
}

/** Whether a job moving to thumbed/ carries nothing to drop, so one rename of its file will do. Pure. */
export function restsAsIs(job: Job, unchanged: boolean): boolean {
  return job.attempts === 0 && !job.errorCode && !job.notBefore && !job.refresh && !unchanged;
}

/** A failed job moved back to incoming/ by `retry`: a fresh start. */
export function forRetry(job: Job, now: Date): Job {
  const next: Job = { ...job, attempts: 0, updatedAt: now.toISOString() };
  delete next.notBefore;
  return next;
}

export function oneLine(message: string): string {
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
