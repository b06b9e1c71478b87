/**
 * The IPv6 counterpart of segment-codec.ts's reader: the TCP segment of a frame whose headers
 * parseIpv6FiveTuple validated (checksum checked by the caller's path), as a receiving host
 * hands it to its apps. The addresses are the host's application handles for the two IPv6
 * addresses (src/topology/ipv6-address-table.ts); the payload is copied (the slot is recycled).
 */
import type { Ipv6FiveTuple } from '../wire/five-tuple6.js';
import { parseTcpOptions, TcpField, TcpView } from '../wire/tcp.js';
import type { TcpSegment } from './transport.js';

const headerView = new TcpView();

export function readTcpSegment6(frame: Uint8Array, ft: Ipv6FiveTuple, src: number, dst: number): TcpSegment {
  const view = headerView.attach(frame, ft.l4Offset);
  const headerEnd = ft.l4Offset + view.headerLength;
  const options = parseTcpOptions(frame, ft.l4Offset + TcpField.OPTIONS, headerEnd);
  return {
    src,
    dst,
    sport: ft.sport,
    dport: ft.dport,
    seq: view.seq,
    ack: view.ack,
    flags: view.flags,
    window: view.window,
    options: options.ok ? options.options : [],
    payload: frame.slice(headerEnd, ft.l4Offset + ft.l4Length),
  };
}
