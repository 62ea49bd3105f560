import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseConfig, ConfigError } from '../engine/config/config.js';
import { parseItemized } from '../engine/sweep/fscheck.js';
import { commonArgs, rsyncReason, runRsync } from '../engine/sweep/rsync.js';
import { targetKind } from '../engine/config/targets.js';
import { phases } from '../engine/sweep/sync.js';
import { sweepExitCode } from '../engine/sweep/sweep.js';
import { dayOf } from '../spool/expiry.js';

test('targets: local directory, host:/path over ssh, rsync daemon', () => {
  assert.is(targetKind('/srv/n1/tree'), 'local');
  assert.is(targetKind('n2.example.com:/srv/tree'), 'ssh');
  assert.is(targetKind('rsync://n3.example.com:873/tree/sub'), 'daemon');
  const options = { rsync: 'rsync', timeoutSeconds: 30, connectTimeoutSeconds: 5, bwlimitKiB: 0 };
  assert.equal(commonArgs({ name: 'n3', dest: 'rsync://h:873/tree' }, options), ['--timeout=30', '--contimeout=5']);
  assert.equal(commonArgs({ name: 'n2', dest: 'h:/tree', bwlimitKiB: 100 }, options), ['--timeout=30', '-e', 'ssh -o BatchMode=yes -o ConnectTimeout=5 -o ServerAliveInterval=8 -o ServerAliveCountMax=4', '--bwlimit=100']);
});

test('an rsync that is not installed is named as such, not as a bare spawn error', async () => {
  const result = await runRsync('imagesys-no-such-rsync', ['--version'], 5_000);
  assert.is(result.code, 127);
  assert.is(rsyncReason(result), 'exit 127: imagesys-no-such-rsync is not installed (sweep.rsync; scripts/setup.sh installs rsync)');
});

test('a manifest goes after its files when sent and before them when deleted', () => {
  const split = phases([
    { path: 'uk/aa/bb/x.thumb.webp', present: true },
    { path: 'uk/aa/bb/x.json', present: true },
    { path: 'uk/cc/dd/y.json', present: false },
    { path: 'uk/cc/dd/y.thumb.webp', present: false },
  ]);
  assert.equal(split, { first: ['uk/aa/bb/x.thumb.webp', 'uk/cc/dd/y.json'], second: ['uk/aa/bb/x.json', 'uk/cc/dd/y.thumb.webp'] });
});

test("rsync's itemized output read as differences", () => {
  const output = ['cd+++++++++ ab/', '>f+++++++++ ab/cd/x.thumb.webp', '>fcst...... ab/cd/y.json', '.f..t...... ab/cd/z.json', '*deleting   ab/cd/old.json', '*deleting   ab/ef/'].join('\n');
  assert.equal(parseItemized(output), [
    { kind: 'missing', path: 'ab/cd/x.thumb.webp' },
    { kind: 'differs', path: 'ab/cd/y.json' },
    { kind: 'extra', path: 'ab/cd/old.json' },
  ]);
});

test('the expiry index names days in UTC', () => {
  assert.is(dayOf(new Date('2026-11-28T23:59:59Z')), '2026-11-28');
  assert.is(dayOf(new Date('2026-11-29T00:00:00+01:00')), '2026-11-28');
});

test('sweep config: targets validated with the key named', () => {
  const config = parseConfig({ sweep: { targets: [{ name: 'n1', dest: '/srv/n1' }], purgeAfterDays: 7 } });
  assert.equal(config.sweep.targets, [{ name: 'n1', dest: '/srv/n1' }]);
  assert.is(config.sweep.purgeAfterDays, 7);
  assert.throws(() => parseConfig({ sweep: { targets: [{ name: 'n 1', dest: '/x' }] } }), (e: unknown) => e instanceof ConfigError && e.key === 'sweep.targets[0].name');
  assert.throws(() => parseConfig({ sweep: { targets: [{ name: 'a', dest: '/x' }, { name: 'a', dest: '/y' }] } }), (e: unknown) => e instanceof ConfigError && e.key === 'sweep.targets[1].name');
  assert.throws(() => parseConfig({ sweep: { target: [] } }), (e: unknown) => e instanceof ConfigError && e.key === 'sweep.target');
});

test('exit codes: behind, differences, ok', () => {
  const level = { target: 'n1', sent: 1, deleted: 0, level: true, backlog: 0, seeding: false };
  assert.is(sweepExitCode({ handedOut: 0, released: 0, setAside: [], targets: [level], checks: [] }), 0);
  assert.is(sweepExitCode({ handedOut: 0, released: 0, setAside: [], targets: [{ ...level, level: false, backlog: 3 }], checks: [] }), 1);
  assert.is(sweepExitCode({ handedOut: 0, released: 0, setAside: [], targets: [level], checks: [{ where: 'n1', country: 'uk', differences: [{ kind: 'missing', path: 'x' }], repaired: false }] }), 4);
  assert.is(sweepExitCode({ handedOut: 0, released: 0, setAside: [], targets: [level], checks: [{ where: 'n1', country: 'uk', differences: [{ kind: 'missing', path: 'x' }], repaired: true }] }), 0);
});

test.run();
