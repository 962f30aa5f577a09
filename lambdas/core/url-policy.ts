import ipaddr from 'ipaddr.js';
import { AppError } from './errors.js';

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
   * For local testing against a fixture server: `true` allows every address,
   * a list of CIDR ranges allows those only. The deployed stack never sets it.
   */
  allowPrivateAddresses: boolean | string[];
}

const forbidden = (message: string) => new AppError('SOURCE_URL_FORBIDDEN', message);

/** Why an address may not be fetched, or undefined when it may. */
const inAllowedRange = (parsed: ipaddr.IPv4 | ipaddr.IPv6, ranges: string[]): boolean =>
  ranges.some((cidr) => {
    const [range, bits] = ipaddr.parseCIDR(cidr);
    return range.kind() === parsed.kind() && parsed.match(range, bits);
  });

export const addressProblem = (address: string, policy: UrlPolicy): string | undefined => {
  if (policy.allowPrivateAddresses === true) return undefined;
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  if (Array.isArray(policy.allowPrivateAddresses) && inAllowedRange(parsed, policy.allowPrivateAddresses))
    return undefined;
  return `${address} is a ${range} address`;
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
  } else if (policy.allowPrivateAddresses !== true && /(^|\.)localhost\.?$/i.test(url.hostname)) {
    throw forbidden('The URL points at the local host.');
  }
  return url;
};
