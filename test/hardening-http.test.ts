/**
 * Issue 12, the status server: it answers only its own host names (a DNS-rebinding page sends another)
 * and never follows a link out of the tree. A real daemon, real requests, real links.
 */
import { get } from 'node:http';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { answeredHosts, hostOfHeader } from '../engine/observe/http-server.js';
import { kill, startDaemon, statusPageOf, waitUntil, writeTestConfig } from './support/cli.js';
import { tempDir } from './support/temp.js';

function request(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { headers: host ? { host } : {} }, (response) => {
      let body = '';
      response.setEncoding('latin1');
      response.on('data', (chunk) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('Host names: parsed without the port; the listen address, localhost, this machine and the configured ones are answered', () => {
  assert.is(hostOfHeader('Evil.Example:9464'), 'evil.example');
  assert.is(hostOfHeader('[::1]:9464'), '[::1]');
  assert.is(hostOfHeader(undefined), undefined);
  const hosts = answeredHosts('10.1.2.3', ['imagesys.internal'], 'web7');
  for (const h of ['localhost', '127.0.0.1', '[::1]', '10.1.2.3', 'web7', 'imagesys.internal']) assert.ok(hosts.has(h), h);
  assert.not.ok(hosts.has('evil.example'));
});

test('#11 the status server refuses a Host it does not know (DNS rebinding) and #4 serves no link out of the tree', async () => {
  const { dir, cleanup } = await tempDir();
  const daemon = startDaemon(['--config', await writeTestConfig(dir, { countries: ['uk'], http: { listen: '127.0.0.1:0', allowedHosts: ['imagesys.internal'] } })]);
  try {
    let page: string | undefined;
    await waitUntil('the page is served', async () => (page = await statusPageOf(join(dir, 'spool'))) !== undefined, 20_000);
    const port = new URL(page!).port;
    assert.is((await request(`${page}/api/status`)).status, 200, 'its own address');
    assert.is((await request(`${page}/api/status`, `localhost:${port}`)).status, 200);
    assert.is((await request(`${page}/api/status`, `imagesys.internal:${port}`)).status, 200, 'a configured name');
    const rebound = await request(`${page}/api/status`, `evil.example:${port}`);
    assert.is(rebound.status, 421);
    assert.not.match(rebound.body, /"counts"/, 'no report for a stranger');
    assert.is((await request(`${page}/metrics`, 'evil.example')).status, 421);

    const tree = join(dir, 'tree', 'uk');
    const hash = 'ab'.repeat(16);
    const cell = join(tree, 'ab', 'ab');
    await mkdir(cell, { recursive: true });
    await writeFile(join(cell, `${hash}.thumb.png`), 'a real thumbnail');
    assert.equal(await request(`${page}/tree/uk/ab/ab/${hash}.thumb.png`), { status: 200, body: 'a real thumbnail' });
    const secret = join(dir, 'secret.txt');
    await writeFile(secret, 'root:x:0:0');
    await symlink(secret, join(cell, `${'cd'.repeat(16)}.thumb.png`));
    assert.is((await request(`${page}/tree/uk/ab/ab/${'cd'.repeat(16)}.thumb.png`)).status, 404, 'a linked file');
    const outside = join(dir, 'outside', 'ef');
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, `${'ef'.repeat(16)}.thumb.png`), 'root:x:0:0');
    await symlink(join(dir, 'outside'), join(tree, 'ef'));
    const linkedDir = await request(`${page}/tree/uk/ef/ef/${'ef'.repeat(16)}.thumb.png`);
    assert.is(linkedDir.status, 404, 'a file under a linked directory');
    assert.not.match(linkedDir.body, /root:x/);
  } finally {
    await kill(daemon);
    await cleanup();
  }
});

test.run();
