/**
 * Tells the engine at once when a batch appears or changes in incoming/<cc>/.
 *
 * Node's fs.watch (inotify on Linux) names the file in each event, so a directory that also holds a
 * million jobs costs nothing per event beyond a name check. chokidar, used here before, re-reads the
 * watched directory and lstat()s every entry on each change (readdirp with alwaysStat, at most once a
 * second): with 100,000 queued jobs that halved the claim rate (bench:scale). Events can be lost (a
 * full inotify queue, NFS, where changes made by other hosts raise none): the periodic rescan finds
 * whatever they missed.
 */
import { watch, type FSWatcher } from 'node:fs';
import { basename } from 'node:path';
import { BATCH_SUFFIX, isVisible } from '../../spool/layout.js';

export interface BatchWatcher {
  close(): void;
}

export function watchBatches(dirs: ReadonlyArray<{ country: string; dir: string }>, onBatch: (country: string, name: string) => void, onError: (error: Error, dir: string) => void): BatchWatcher {
  const watchers: FSWatcher[] = [];
  for (const { country, dir } of dirs) {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, filename) => {
        const name = filename === null ? undefined : basename(filename);
        if (name !== undefined && isVisible(name, BATCH_SUFFIX)) onBatch(country, name);
      });
      watcher.on('error', (error) => onError(error, dir));
      watchers.push(watcher);
    } catch (error) {
      onError(error as Error, dir);
    }
  }
  return {
    close: () => {
      for (const watcher of watchers) watcher.close();
    },
  };
}
