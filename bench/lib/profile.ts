/** A CPU profile of the main thread over one span (`--cpu-prof DIR`), written as `<name>.cpuprofile` for Chrome DevTools. */
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

/** Starts profiling; the function returned stops and writes the profile. Without `dir`, nothing. */
export async function profileSpan(dir: string | undefined, name: string): Promise<() => Promise<void>> {
  if (!dir) return async () => {};
  await mkdir(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
  };
}
