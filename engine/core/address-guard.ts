/**
 * The SSRF guard: source URLs come from scraped feeds, so by default a download may not reach
 * loopback, private, link-local, CGNAT, unspecified, multicast or reserved addresses, nor IPv4 hidden
 * in IPv6 (mapped, compatible, 6to4, NAT64, Teredo). It is checked on the address actually connected
 * to: the Downloader's connector resolves names through `lookup` below, for every hop. Config lists
 * the hosts and ranges that may be reached anyway (tests and the demo list 127.0.0.1).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';

/** The IPv4 ranges no scraped URL may reach, with the name an operator reads in the failure. */
const BLOCKED_V4: ReadonlyArray<[string, number, string]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'CGNAT'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'IETF protocol assignments'],
  ['192.0.2.0', 24, 'documentation'],
  ['192.88.99.0', 24, '6to4 relay'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'benchmarking'],
  ['198.51.100.0', 24, 'documentation'],
  ['203.0.113.0', 24, 'documentation'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

/** IPv6 ranges blocked outright (those that embed an IPv4 address are judged by it, below). */
const BLOCKED_V6: ReadonlyArray<[string, number, string]> = [
  ['::', 128, 'unspecified'],
  ['::1', 128, 'loopback'],
  ['64:ff9b:1::', 48, 'local NAT64'],
  ['100::', 64, 'discard'],
  ['2001:2::', 48, 'benchmarking'],
  ['2001:10::', 28, 'ORCHID'],
  ['2001:20::', 28, 'ORCHID'],
  ['2001:db8::', 32, 'documentation'],
  ['3fff::', 20, 'documentation'],
  ['5f00::', 16, 'segment routing'],
  ['fc00::', 7, 'private (unique local)'],
  ['fe80::', 10, 'link-local'],
  ['fec0::', 10, 'site-local'],
  ['ff00::', 8, 'multicast'],
];

function v4ToBigInt(ip: string): bigint {
  return ip.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** An IPv6 address as a 128-bit number; undefined when it is not one. Pure. */
function v6ToBigInt(ip: string): bigint | undefined {
  let text = ip.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  // a trailing dotted IPv4 (::ffff:1.2.3.4) becomes two hex groups
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    if (isIP(dotted[1]!) !== 4) return undefined;
    const v4 = v4ToBigInt(dotted[1]!);
    text = `${text.slice(0, -dotted[1]!.length)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

function inRange(value: bigint, base: bigint, prefix: number, bits: number): boolean {
  const shift = BigInt(bits - prefix);
  return value >> shift === base >> shift;
}

function v4Name(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
}

function classifyV4(value: bigint): string | undefined {
  for (const [base, prefix, name] of BLOCKED_V4) if (inRange(value, v4ToBigInt(base), prefix, 32)) return name;
  return undefined;
}

/**
 * Why an address may not be reached (`loopback`, `private`, ...), or undefined for a public address.
 * IPv4 inside IPv6 is judged by the IPv4 address it carries. Pure.
 */
export function blockedCategory(ip: string): string | undefined {
  const family = isIP(ip.split('%')[0]!);
  if (family === 4) return classifyV4(v4ToBigInt(ip));
  if (family !== 6) return 'not an IP address';
  const value = v6ToBigInt(ip)!;
  const embedded = (v4: bigint, how: string): string | undefined => {
    const category = classifyV4(v4);
    return category ? `${category} (${v4Name(v4)} ${how})` : undefined;
  };
  const low32 = value & 0xffffffffn;
  if (inRange(value, v6ToBigInt('::ffff:0:0')!, 96, 128)) return embedded(low32, 'mapped in IPv6');
  if (inRange(value, v6ToBigInt('::ffff:0:0:0')!, 96, 128)) return embedded(low32, 'IPv4-translated') ?? 'IPv4-translated';
  if (inRange(value, v6ToBigInt('64:ff9b::')!, 96, 128)) return embedded(low32, 'via NAT64');
  if (inRange(value, 0n, 96, 128) && value > 1n) return embedded(low32, 'IPv4-compatible') ?? 'IPv4-compatible (deprecated)';
  if (inRange(value, v6ToBigInt('2002::')!, 16, 128)) return embedded((value >> 80n) & 0xffffffffn, 'via 6to4');
  if (inRange(value, v6ToBigInt('2001::')!, 32, 128)) return 'Teredo tunnel';
  for (const [base, prefix, name] of BLOCKED_V6) if (inRange(value, v6ToBigInt(base)!, prefix, 128)) return name;
  return undefined;
}

interface Range {
  family: 4 | 6;
  base: bigint;
  prefix: number;
}

/** What config lets through: host names (as written in URLs) and address ranges. */
export class AllowList {
  private readonly hosts = new Set<string>();
  private readonly ranges: Range[] = [];

  /** Entries: `localhost`, `images.internal`, `127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const range = parseRange(entry);
      if (range) this.ranges.push(range);
      else this.hosts.add(entry.toLowerCase().replace(/^\[|\]$/g, ''));
    }
  }

  allowsHost(hostname: string): boolean {
    return this.hosts.has(hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  allowsAddress(ip: string): boolean {
    const family = isIP(ip.split('%')[0]!);
    if (family === 0) return false;
    const value = family === 4 ? v4ToBigInt(ip) : v6ToBigInt(ip)!;
    return this.ranges.some((r) => r.family === family && inRange(value, r.base, r.prefix, family === 4 ? 32 : 128));
  }
}

/** `a.b.c.d[/n]` or an IPv6 address with an optional `/n`; undefined for a host name. Pure. */
function parseRange(entry: string): Range | undefined {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined || (bits !== undefined && !/^\d{1,3}$/.test(bits))) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return undefined;
  return { family: family as 4 | 6, base: family === 4 ? v4ToBigInt(address!) : v6ToBigInt(address!)!, prefix };
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

/** An allow-list entry is an address or range, or a host name; anything else is a typo to refuse. Pure. */
export function isAllowEntry(entry: string): boolean {
  return parseRange(entry) !== undefined || (!entry.includes('/') && isIP(entry) === 0 && HOST_NAME.test(entry));
}

/** The refusal a job fails with: its own code, and a message naming host, address and why. */
export class BlockedAddressError extends Error {
  readonly code = 'ERR_IMAGESYS_BLOCKED_ADDRESS';
  constructor(hostname: string, address: string, category: string) {
    const what = hostname === address ? `${address} is` : `${hostname} resolves to ${address},`;
    super(`refused: ${what} a ${category} address (allow it with download.allow)`);
  }
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

export class AddressGuard {
  constructor(private readonly allow: AllowList) {}

  /** The reason `address` (reached for `hostname`) is refused, or undefined when it may be reached. */
  refusal(hostname: string, address: string): BlockedAddressError | undefined {
    if (this.allow.allowsHost(hostname) || this.allow.allowsAddress(address)) return undefined;
    const category = blockedCategory(address);
    return category ? new BlockedAddressError(hostname, address, category) : undefined;
  }

  /** Resolves a name as a connection would and throws the refusal, if any (for requests through a proxy). */
  check(hostname: string): Promise<void> {
    return new Promise((resolve, reject) => this.lookup(hostname, { all: true }, (error) => (error ? reject(error) : resolve())));
  }

  /**
   * A drop-in for dns.lookup in net.connect: resolves, then refuses if any address the connection
   * could use is blocked (a name with one public and one private address is refused as a whole).
   */
  readonly lookup = (hostname: string, options: { all?: boolean; family?: number | string } | number, callback: LookupCallback): void => {
    const opts = typeof options === 'number' ? { family: options } : options;
    dnsLookup(hostname, { ...opts, all: true } as { all: true }, (error, addresses) => {
      if (error) return callback(error, opts.all ? [] : '');
      for (const { address } of addresses) {
        const refused = this.refusal(hostname, address);
        if (refused) return callback(refused, opts.all ? [] : '');
      }
      if (opts.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}
