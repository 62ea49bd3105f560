/** What one image is made into: the thumbnails' defaults with its country's and datasource's overrides. Pure. */
import type { OutputFormat, ProcessDetails, SizeSpec } from '../../workers/thumbnail-task.js';
import type { Config } from './schema.js';

/** What one image of a country and datasource is made into. */
export interface Processing {
  sizes: SizeSpec[];
  formats: OutputFormat[];
  process: ProcessDetails;
}

/** Defaults, overridden by the country, overridden by the datasource. Pure. */
export function processingFor(config: Config, country: string, datasource: string | undefined): Processing {
  const t = config.thumbnails;
  const c = t.countries[country];
  const ds = datasource === undefined ? undefined : c?.datasources?.[datasource];
  return {
    sizes: c?.sizes ?? t.sizes,
    formats: c?.formats ?? t.formats,
    process: { ...t.process, ...c?.process, ...ds?.process },
  };
}
