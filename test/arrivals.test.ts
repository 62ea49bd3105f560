/**
 * The arrival log orders a backlog: the engine works through queued jobs in the order they arrived,
 * not in the order of their hashes (which is what a directory listing gives).
 */
import { spawnSync } from 'node:child_process';
import { appendFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { hashForUrl } from '../engine/core/hash.js';
import { ArrivalWriter, arrivalsDir, closeAbandonedSegments, closedSegments, decodeLine, segmentLines } from '../spool/arrivals.js';
import { SELF } from '../spool/owner.js';
import { makeSample } from '../scripts/sample-images.js';
import { startSourceServer, type Route } from '../scripts/source-server.js';
import { runCli, writeTestConfig } from './support/cli.js';
import { tempDir } from './support/temp.js';

async function linesOf(spool: string, segment: string): Promise<string[]> {
  const out: string[] = [];
  for await (const line of segmentLines(spool, 'uk', segment)) out.push(line.host ? `${line.name} ${line.host}` : line.name);
  return out;
}

test('a line carries the job and, when known, its host; half lines and odd hosts are not read as jobs', () => {
  assert.equal(decodeLine('ab.job'), { name: 'ab.job' });
  assert.equal(decodeLine('ab.job\timg.example.com:8080'), { name: 'ab.job', host: 'img.example.com:8080' });
  assert.is(decodeLine('ab.jo'), undefined, 'half a name');
  assert.is(decodeLine('ab.job\tbad host'), undefined);
  assert.is(decodeLine('.hidden.job'), undefined);
});

test('segments are invisible while open, closed in order, and keep their lines in order', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const writer = new ArrivalWriter(dir);
    await writer.append('uk', ['a.job', 'b.job']);
    await writer.append('uk', ['c.job']);
    assert.equal(await closedSegments(dir, 'uk'), [], 'an open segment is not read');
    assert.ok(writer.holdsOpenSegment('uk'));
    assert.not.ok(writer.holdsOpenSegment('de'));
    await writer.close();
    const segments = await closedSegments(dir, 'uk');
    assert.is(segments.length, 1);
    assert.equal(await linesOf(dir, segments[0]!), ['a.job', 'b.job', 'c.job']);
    await writer.append('uk', ['d.job']);
    await writer.close();
    const both = await closedSegments(dir, 'uk');
    assert.is(both.length, 2);
    assert.is(both[0], segments[0], 'older segments sort first');
    assert.equal(await linesOf(dir, both[1]!), ['d.job']);
  } finally {
    await cleanup();
  }
});

test('a dead writer’s open segment is closed by recovery; a half-written last line is ignored', async () => {
  const { dir, cleanup } = await tempDir();
  try {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const folder = arrivalsDir(dir, 'uk');
    await mkdir(folder, { recursive: true });
    const name = `${String(Date.now()).padStart(15, '0')}~${SELF.host}~${dead}~0.log`;
    await writeFile(join(folder, `.${name}.open`), 'x.job\ny.job\n');
    await appendFile(join(folder, `.${name}.open`), '0123abc'); // killed in the middle of a line
    const live = `${String(Date.now()).padStart(15, '0')}~${SELF.host}~${process.pid}~9.log`;
    await writeFile(join(folder, `.${live}.open`), 'z.job\n');
    assert.is(await closeAbandonedSegments(dir, 'uk', Date.now()), 1, 'only the dead writer’s segment');
    assert.equal(await closedSegments(dir, 'uk'), [name]);
    assert.equal(await linesOf(dir, name), ['x.job', 'y.job']);
    assert.ok((await readdir(folder)).includes(`.${live}.open`), 'a live writer’s segment stays open');
    // an overflow segment's replacement that a dead engine did not rename into place: removed, the segment kept
    const overflow = arrivalsDir(dir, 'uk', 'img.example.com:80');
    await mkdir(overflow, { recursive: true });
    await writeFile(join(overflow, name), 'a.job\timg.example.com:80\n');
    await writeFile(join(overflow, `.${name}.${SELF.host}~${dead}.rewrite`), 'half');
    await writeFile(join(overflow, `.${name}.${SELF.host}~${process.pid}.rewrite`), 'mine');
    await closeAbandonedSegments(dir, 'uk', Date.now());
    assert.equal((await readdir(overflow)).sort(), [`.${name}.${SELF.host}~${process.pid}.rewrite`, name].sort());
  } finally {
    await cleanup();
  }
});

test('a backlog is worked through in order of arrival, then jobs dropped in by hand', async () => {
  const { dir, cleanup } = await tempDir();
  const photo = await makeSample({ width: 200, height: 150, seed: 9 });
  const routes = new Map<string, Route>();
  const server = await startSourceServer(routes, { recordOrder: true });
  try {
    const config = await writeTestConfig(dir, { countries: ['uk'], pool: { threads: 1 }, download: { concurrency: 1, perHost: 1 } });
    const paths = Array.from({ length: 45 }, (_, i) => `/arrival/${i}.jpg`);
    for (const path of paths) routes.set(path, { kind: 'image', bytes: photo });
    // three feeds, one after the other, while no engine runs
    for (let feed = 0; feed < 3; feed++) {
      const urls = paths.slice(feed * 15, feed * 15 + 15).map((p) => server.url(p));
      const result = await runCli(['enqueue', '--config', config, '--country', 'uk', '--file', '-'], { input: urls.join('\n') });
      assert.is(result.code, 0, result.stderr);
    }
    // and jobs an operator put there by hand: not in the log, found by the scan once the log is done
    const byHand = ['/hand/0.jpg', '/hand/1.jpg'];
    for (const path of byHand) {
      routes.set(path, { kind: 'image', bytes: photo });
      const url = server.url(path);
      await writeFile(join(dir, 'spool', 'incoming', 'uk', `${hashForUrl(url)}.job`), JSON.stringify({ url }));
    }
    const hashOrder = [...paths].sort((a, b) => hashForUrl(server.url(a)).localeCompare(hashForUrl(server.url(b))));
    assert.not.equal(hashOrder, paths, 'a directory listing would give another order');

    const run = await runCli(['run', '--once', '--config', config]);
    assert.is(run.code, 0, run.stderr);
    assert.equal(server.requests.slice(0, paths.length), paths, 'the backlog in order of arrival');
    assert.equal([...server.requests.slice(paths.length)].sort(), byHand);
    assert.equal(await readdir(arrivalsDir(join(dir, 'spool'), 'uk')), [], 'fed segments are removed');
  } finally {
    await server.close();
    await cleanup();
  }
});

test.run();
