import { describe, expect, it } from 'vitest';
import { buildSimulation } from '../../src/sim/simulation.js';
import { ChurnSpecError, parseChurnSpec } from '../../src/traffic/churn.js';
import { runLoad } from '../../src/traffic/generator.js';

describe('churn spec', () => {
  it('parses KIND=N@PACKET items and sorts them by packet, keeping spec order for ties', () => {
    expect(parseChurnSpec('scale=5@300, delete=1@100,unready=2@300,ready=1@200')).toEqual([
      { kind: 'delete', count: 1, atPacket: 100 },
      { kind: 'ready', count: 1, atPacket: 200 },
      { kind: 'scale', count: 5, atPacket: 300 },
      { kind: 'unready', count: 2, atPacket: 300 },
    ]);
  });

  it('refuses malformed items with the item named', () => {
    expect(() => parseChurnSpec('scale=5')).toThrow(ChurnSpecError);
    expect(() => parseChurnSpec('grow=1@5')).toThrow(/unknown churn kind "grow"/);
    expect(() => parseChurnSpec('delete=0@5')).toThrow(/touches no pod/);
    expect(() => parseChurnSpec(' , ')).toThrow(/empty churn spec/);
  });
});

describe('churn during a load run', () => {
  it('applies events in packet order at their packet counts and re-syncs the proxies', () => {
    const sim = buildSimulation({ mode: 'iptables', seed: 4 });
    const report = runLoad(sim, {
      flows: 40,
      packets: 600,
      seed: 4,
      churn: parseChurnSpec('scale=5@400,unready=1@200,delete=1@200'),
    });
    expect(report.churn.map((c) => `${c.kind}@${c.atPacket}`)).toEqual([
      'unready@200',
      'delete@200',
      'scale@400',
    ]);
    expect(report.churn.every((c) => c.ok)).toBe(true);
    expect(report.churn[0].messages[0]).toMatch(/not ready$/);
    expect(report.churn[1].messages[0]).toMatch(/deleted$/);
    // After the scale to 5 (and one pod not ready), the Service's model has 5 endpoints, 4 ready.
    const sp = sim.model.servicePorts.find((p) => p.name === 'myweb-svc-np')!;
    expect(sp.endpoints.length).toBe(5);
    expect(sp.endpoints.filter((e) => e.ready).length).toBe(4);
    // The rules follow the model: node1's iptables-save DNATs to the 4 ready web pods (port 8080).
    const dnat = sim.rules('node1').match(/-j DNAT --to-destination [0-9.]+:8080/g) ?? [];
    expect(dnat.length).toBe(4);
  });
});
