/**
 * ConnRef (a packet reference, `(conn << 1) | dir`) and ConnId (a connection slot) are both
 * numbers at run time; the brands make passing one where the other is expected a compile error.
 * The `@ts-expect-error` lines are checked by `npm run typecheck` (tsconfig.json includes test/):
 * if a brand is removed, tsc reports the directive as unused and the typecheck fails.
 */
import { describe, expect, it } from 'vitest';
import {
  type ConnId,
  type ConnRef,
  ConntrackTable,
  CtDir,
  connOf,
  dirOf,
} from '../../src/conntrack/index.js';
import { Rng } from '../../src/util/rng.js';
import { IpProtocol } from '../../src/wire/ip-protocol.js';
import { TcpFlag } from '../../src/wire/tcp.js';

function typeLevelChecks(ct: ConntrackTable, ref: ConnRef, conn: ConnId): void {
  // @ts-expect-error a ConnId is not a packet reference
  ct.needsDstRewrite(conn);
  // @ts-expect-error a ConnId is not a packet reference
  ct.confirm(conn, 0);
  // @ts-expect-error a packet reference is not a connection id (it is conn << 1 | dir)
  ct.setDnat(ref, 0, 0);
  // @ts-expect-error a plain number is neither
  ct.release(7);
}

describe('ConnRef / ConnId brands', () => {
  it('a reference from track maps to its connection and direction, and the brands add nothing at run time', () => {
    const ct = new ConntrackTable({ max: 8, rng: new Rng(1) });
    const ref = ct.track(0x0a000001, 0x0a000002, 40000, 80, IpProtocol.TCP, TcpFlag.SYN, 0);
    expect(typeof ref).toBe('number');
    expect(ref).toBeGreaterThanOrEqual(0);
    const conn = connOf(ref);
    expect(conn).toBe(ref >>> 1);
    expect(dirOf(ref)).toBe(CtDir.ORIGINAL);
    expect(ct.setDnat(conn, 0x0a000003, 8080)).toBe(0);
    expect(ct.needsDstRewrite(ref)).toBe(true);
    expect(typeof typeLevelChecks).toBe('function');
  });
});
