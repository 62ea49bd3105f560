/**
 * Times as the viewer reads them: in the browser's own time zone. Ages are measured against the
 * report's `at` (the daemon's clock), not the viewer's.
 */
import { formatAge } from '../../format.js';

const two = (n: number): string => String(n).padStart(2, '0');

/** `14:05:09` (or `14:05`) in local time; the text itself when it is no time. */
export function clock(iso: string, withSeconds = true): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${two(d.getHours())}:${two(d.getMinutes())}${withSeconds ? `:${two(d.getSeconds())}` : ''}`;
}

/** A time of the report's day as a clock, any other as date and clock. */
export function stamp(iso: string | null | undefined, nowIso: string): string {
  if (!iso) return 'never';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (d.toDateString() === new Date(nowIso).toDateString()) return clock(iso);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${clock(iso, false)}`;
}

/** `2m 5s ago`, `in 3s`, or `never`. */
export function ago(iso: string | null | undefined, nowIso: string): string {
  return iso ? formatAge(iso, nowIso) : 'never';
}
