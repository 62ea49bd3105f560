/**
 * How figures read, once for the server's text (`imagesys status`, `imagesys report`) and for the
 * status page. Pure and without imports: the page's build links this module into its inline script
 * (engine/observe/page/inline-script.ts), so it must name nothing outside itself and hold no address.
 */

/** Binary units, smallest first (the page's chart axes use them too). */
export const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** A whole number as plain digits (`1234`); anything that is not a number reads `0`. */
export function formatCount(n: number): string {
  return String(Math.round(n || 0)); // || 0: NaN (and a field missing from old JSON) reads 0
}

/** Bytes in binary units with one decimal (`3.0 MiB`); plain bytes without one (`512 B`). */
export function formatBytes(n: number): string {
  let value = n || 0;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${BYTE_UNITS[unit]}`;
}

/** Seconds, rounded, in the two largest units (`59s`, `2m 5s`, `1h 6m`, `3d 4h`); never negative. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Seconds from one ISO time to another (negative when `to` is earlier; NaN when either is no time). */
export function secondsBetween(fromIso: string, toIso: string): number {
  return (Date.parse(toIso) - Date.parse(fromIso)) / 1000;
}

/** How long before `nowIso` the time `iso` was (`2m 5s ago`), or how long after (`in 3s`). */
export function formatAge(iso: string, nowIso: string): string {
  const s = secondsBetween(iso, nowIso);
  if (Number.isNaN(s)) return iso;
  return s >= 0 ? `${formatDuration(s)} ago` : `in ${formatDuration(-s)}`;
}

/** `1 engine`, `2 engines`; `many` for an irregular plural. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Right-aligned in a column of `width` characters. */
export function padLeft(text: string | number, width: number): string {
  return String(text).padStart(width);
}

/** An engine's clock against the spool's (offsetMs: the spool's minus the engine's), for text and the page. Pure. */
export function formatClockOffset(offsetMs: number): string {
  const seconds = Math.abs(offsetMs) / 1000;
  const amount = seconds < 10 ? `${seconds.toFixed(3)} s` : formatDuration(Math.round(seconds));
  if (offsetMs === 0) return "clock agrees with the spool's";
  return `clock ${amount} ${offsetMs < 0 ? 'ahead of' : 'behind'} the spool's`;
}
