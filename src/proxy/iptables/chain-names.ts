/**
 * kube-proxy's iptables chain names (pkg/proxy/iptables/proxier.go portProtoHash and
 * servicePortEndpointChainName): base32(sha256(text)) cut to 16 characters, so that
 * prefix + hash fits iptables' 28-character chain-name limit.
 */
import { flatAscii, sha256Base32Prefix } from '../../util/sha256-base32.js';

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 (Go's base32.StdEncoding), without padding. */
export function base32Std(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32_ALPHABET[(buffer >>> bits) & 31];
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

/** First 16 base32 characters of sha256(text). */
export function hash16(text: string): string {
  // 10 bytes are exactly 16 base32 characters; the rest of the digest never shows.
  return sha256Base32Prefix(text, 16);
}

/** portProtoHash: shared by KUBE-SVC-, KUBE-SVL-, KUBE-EXT- and KUBE-FW-. */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol.toLowerCase());
}

export interface ServiceChainNames {
  readonly svc: string;
  readonly svl: string;
  readonly ext: string;
  readonly fw: string;
}

/** One flat string (see flatAscii): the names are Map keys through the restore and the evaluator. */
function flat(prefix: string, hash: string): string {
  return flatAscii(prefix + hash);
}

export function serviceChainNames(servicePortName: string, protocol: string): ServiceChainNames {
  const h = portProtoHash(servicePortName, protocol);
  return {
    svc: flat('KUBE-SVC-', h),
    svl: flat('KUBE-SVL-', h),
    ext: flat('KUBE-EXT-', h),
    fw: flat('KUBE-FW-', h),
  };
}

/** KUBE-SEP-<hash of servicePortName + protocol + "ip:port">. */
export function endpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return sha256Base32Prefix(servicePortName + protocol.toLowerCase() + endpoint, 16, 'KUBE-SEP-');
}
