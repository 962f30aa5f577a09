import ipaddr from 'ipaddr.js';
import { AppError } from '../errors.js';

/**
 * Which URLs the service will fetch. Only http(s), no credentials, and only
 * public unicast addresses: loopback, private, link-local (cloud metadata at
 * 169.254.169.254), CGNAT, multicast, unspecified, unique-local IPv6
 * (fd00:ec2::254), IPv4-mapped forms of those, and the other special ranges
 * are refused. The URL parser has already normalised odd IPv4 spellings
 * (`2130706433`, `0x7f.1`) to dotted quads.
 */
export interface UrlPolicy {
  /**
   * For local testing against a fixture server: `true` allows loopback
   * addresses (and `localhost`), a list of CIDR ranges allows those. Never
   * link-local or metadata addresses beyond what a list names. The deployed
   * stack never sets it.
   */
  allowPrivateAddresses: boolean | string[];
}

/** How a source fetch goes whoever fetches it: redirects followed (API.md: at most 5), time to connect. */
export const SOURCE_FETCH = { maxRedirects: 5, connectTimeoutMs: 10_000 } as const;

/** What `allowPrivateAddresses: true` opens: this machine, nothing else. */
export const LOOPBACK_RANGES = ['127.0.0.0/8', '::1/128'];

/** Global unicast IPv6; everything outside (IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::`, …) can reach IPv4 space. */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

const forbidden = (message: string) => new AppError('SOURCE_URL_FORBIDDEN', message);

/** Why an address may not be fetched, or undefined when it may. */
const inAllowedRange = (parsed: ipaddr.IPv4 | ipaddr.IPv6, ranges: string[]): boolean =>
  ranges.some((cidr) => {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    return range.kind() === parsed.kind() && parsed.match(range, bits);
  });

const allowedRanges = (policy: UrlPolicy): string[] =>
  policy.allowPrivateAddresses === true ? LOOPBACK_RANGES : policy.allowPrivateAddresses || [];

export const addressProblem = (address: string, policy: UrlPolicy): string | undefined => {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  if (inAllowedRange(parsed, allowedRanges(policy))) return undefined;
  const range = parsed.range();
  if (range === 'unicast' && (parsed.kind() === 'ipv4' || parsed.match(GLOBAL_UNICAST_V6))) return undefined;
  return `${address} is a ${range === 'unicast' ? 'non-global' : range} address`;
};

const hostAddress = (hostname: string): string | undefined => {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(bare) ? bare : undefined;
};

/**
 * Checks what the URL alone shows (scheme, credentials, IP literals, names
 * that are loopback by definition). The address a name resolves to is
 * checked again when connecting.
 */
export const checkUrl = (raw: string, policy: UrlPolicy): URL => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw forbidden('The URL could not be parsed.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw forbidden(`Only http and https URLs can be fetched, not ${url.protocol.replace(/:$/, '')}.`);
  }
  if (url.username || url.password) throw forbidden('URLs with credentials are not accepted.');
  const address = hostAddress(url.hostname);
  if (address) {
    const problem = addressProblem(address, policy);
    if (problem) throw forbidden(`The URL points at a forbidden address (${problem}).`);
  } else if (
    /(^|\.)localhost\.?$/i.test(url.hostname) &&
    !inAllowedRange(ipaddr.parse('127.0.0.1'), allowedRanges(policy))
  ) {
    throw forbidden('The URL points at the local host.');
  }
  return url;
};
