import { describe, expect, it } from 'vitest';
import {
  ctime,
  formatFixed,
  formatKernelProbability,
  kubeProxyProbability,
  probabilityToKernel,
} from '../../../src/proxy/iptables/index.js';

describe('probability formatting', () => {
  it('matches kube-proxy computeProbability (TestComputeProbability values)', () => {
    expect(kubeProxyProbability(1)).toBe('1.0000000000');
    expect(kubeProxyProbability(2)).toBe('0.5000000000');
    expect(kubeProxyProbability(3)).toBe('0.3333333333');
    expect(kubeProxyProbability(100001)).toBe('0.0000099999');
  });

  it.each([
    [2, '0.50000000000'],
    [3, '0.33333333349'],
    [4, '0.25000000000'],
    [5, '0.20000000019'],
    [6, '0.16666666651'],
    [7, '0.14285714272'],
    [8, '0.12500000000'],
    [10, '0.10000000009'],
    [100001, '0.00001000008'],
  ])('round-trips 1/%i through the kernel threshold as iptables-save prints it (%s)', (n, saved) => {
    expect(formatKernelProbability(probabilityToKernel(Number(kubeProxyProbability(n))))).toBe(saved);
  });

  it('rounds exact decimal ties to even like printf and Go, not away from zero like toFixed', () => {
    expect(formatFixed(1 / 2048, 10)).toBe('0.0004882812');
    expect((1 / 2048).toFixed(10)).toBe('0.0004882813');
    expect(formatKernelProbability(2 ** 19)).toBe('0.00024414062');
    expect(formatFixed(0.125, 2)).toBe('0.12');
    expect(formatFixed(0.375, 2)).toBe('0.38');
    expect(formatFixed(1, 3)).toBe('1.000');
    expect(formatFixed(0, 2)).toBe('0.00');
  });

  it('formats dates as ctime(3) does, day padded with a space', () => {
    expect(ctime(new Date(Date.UTC(2025, 0, 1, 0, 0, 0)))).toBe('Wed Jan  1 00:00:00 2025');
    expect(ctime(new Date(Date.UTC(2026, 10, 27, 21, 8, 31)))).toBe('Fri Nov 27 21:08:31 2026');
  });
});
