import { describe, expect, it } from 'vitest';
import {
  base32Std,
  endpointChainName,
  hash16,
  portProtoHash,
  serviceChainNames,
} from '../../../src/proxy/iptables/index.js';

describe('kube-proxy chain-name hashing', () => {
  it('encodes RFC 4648 base32 test vectors (padding dropped)', () => {
    const enc = (s: string) => base32Std(new TextEncoder().encode(s));
    expect(enc('f')).toBe('MY');
    expect(enc('fo')).toBe('MZXQ');
    expect(enc('foo')).toBe('MZXW6');
    expect(enc('foob')).toBe('MZXW6YQ');
    expect(enc('fooba')).toBe('MZXW6YTB');
    expect(enc('foobar')).toBe('MZXW6YTBOI');
  });

  it.each([
    ['ns1/svc1:p80tcp', 'XPGD46QRK7WJZT7O'],
    ['ns1/svc1:p80tcp10.180.0.1:80', 'SXIVWICOYRO3J4NJ'],
    ['ns1/svc1:p80tcp10.180.0.2:80', 'LXVODXWDISEETFEF'],
    ['ns1/svc1:p80tcp10.0.1.1:80', 'SNQ3ZNILQDEJNDQO'],
    ['ns2/svc2:p80tcp', 'GNZBNJ2PO5MGZ6GT'],
    ['ns2/svc2:p8080tcp', '2VJB64SDSIJUP5T6'],
    ['ns2/svc2:p8080tcp10.0.2.1:8080', 'UHEGFW77JX3KXTOV'],
    ['ns3/svc3:p80tcp', 'X27LE4BHSL4DOUIK'],
    ['ns3/svc3:p80tcp10.180.0.3:80', 'OYPFS5VJICHGATKP'],
    ['ns3/svc3:p80tcp10.0.3.1:80', 'BSWRHOQ77KEXZLNL'],
    ['ns4/svc4:p80tcp', '4SW47YFZTEDKD3PK'],
    ['ns5/svc5:p80tcp', 'NUKIZ6OKUXPJNT4C'],
  ])('hashes %s to the upstream test value %s', (input, expected) => {
    expect(hash16(input)).toBe(expected);
  });

  it('names the four per-service chains with one shared hash and lower-cases the protocol', () => {
    expect(portProtoHash('ns1/svc1:p80', 'TCP')).toBe('XPGD46QRK7WJZT7O');
    expect(serviceChainNames('ns5/svc5:p80', 'TCP')).toEqual({
      svc: 'KUBE-SVC-NUKIZ6OKUXPJNT4C',
      svl: 'KUBE-SVL-NUKIZ6OKUXPJNT4C',
      ext: 'KUBE-EXT-NUKIZ6OKUXPJNT4C',
      fw: 'KUBE-FW-NUKIZ6OKUXPJNT4C',
    });
    expect(endpointChainName('ns3/svc3:p80', 'TCP', '10.180.0.3:80')).toBe('KUBE-SEP-OYPFS5VJICHGATKP');
    // The oracle dump's chains for default/web:http.
    expect(portProtoHash('default/web:http', 'tcp')).toBe('CDGGSHYLG3RE2FKL');
    expect(endpointChainName('default/web:http', 'tcp', '10.244.1.2:8080')).toBe('KUBE-SEP-UIQK3OSOSTRHRPBX');
  });
});
