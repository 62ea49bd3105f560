/** Reads Prometheus text exposition into `name{label="v",...}` -> value, labels sorted by name. */
export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`).sort();
    samples.set(labels.length > 0 ? `${match[1]}{${labels.join(',')}}` : match[1]!, Number(match[3]));
  }
  return samples;
}

/** The sample `name` with exactly these labels (0 when absent: a counter not yet incremented). */
export function sample(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const keys = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  return samples.get(keys.length > 0 ? `${name}{${keys.join(',')}}` : name) ?? 0;
}

/** Like sample, for a series that must be there (a gauge): throws when it is absent. */
export function present(samples: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const keys = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  const value = samples.get(keys.length > 0 ? `${name}{${keys.join(',')}}` : name);
  if (value === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)} in the scrape`);
  return value;
}

/** Every label value of every sample: to check that none is a URL or a hash. */
export function labelValues(samples: Map<string, number>): string[] {
  return [...samples.keys()].flatMap((key) => [...key.matchAll(/="((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!));
}
