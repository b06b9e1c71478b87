/**
 * Issue 2's acceptance test: one complete simulated HTTP conversation through a
 * NodePort-style DNAT+SNAT, captured on the client's and the pod's interfaces, must pass
 * tshark with checksum validation and TCP analysis on, each interface on its own.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { curl } from '../../src/apps/curl.js';
import { startHttpResponder } from '../../src/apps/http-responder.js';
import { PcapngWriter, readCapture } from '../../src/capture/index.js';
import { parseIPv4 } from '../../src/util/ipv4.js';
import { checkCaptureWithTshark, describeWithTshark } from '../helpers/tshark.js';
import { LoopbackNetwork } from './loopback-transport.js';

const NODE_IP = '192.168.100.100';
const NODE_PORT = 30532;
const POD = 'myweb-rs-abcde';
const NAT_PORT = 43512;
const TSHARK_OPTIONS = {
  perInterface: true,
  decodeAs: [`tcp.port==${NODE_PORT},http`, 'tcp.port==8080,http'],
};

function simulateConversation() {
  const net = new LoopbackNetwork({ seed: 2024 });
  const client = net.addHost('client', '192.168.100.1', 'client/eth0');
  const pod = net.addHost(POD, '10.233.64.2', `${POD}/eth0`);
  net.addNat({
    serviceAddr: parseIPv4(NODE_IP),
    servicePort: NODE_PORT,
    backendAddr: pod.addr,
    backendPort: 8080,
    snatAddr: parseIPv4(NODE_IP),
    snatPort: NAT_PORT,
  });
  startHttpResponder(pod.stack, { port: 8080, podName: POD });
  const run = curl(client.stack, { url: `http://${NODE_IP}:${NODE_PORT}/`, localAddr: '192.168.100.1' });
  net.run();
  return { net, run, pcap: net.pcap.toBuffer() };
}

describeWithTshark('pcapng of a simulated curl → NodePort → pod conversation', () => {
  it('is clean under tshark on each interface: no malformed frame, bad checksum or TCP analysis flag', async () => {
    const { net, run, pcap } = simulateConversation();
    expect(run.result).toMatchObject({ ok: true, stdout: `Hello World!\n${POD}\n` });
    // Keep a copy for people who want to open it (not used by the assertions).
    await writeFile(join(tmpdir(), 'dpsim-apps-conversation.pcapng'), pcap);

    // Each interface shows its own side of the NAT.
    const capture = readCapture(pcap);
    expect(capture.interfaces.map((i) => i.name)).toEqual(['client/eth0', `${POD}/eth0`]);
    const clientSide = net.tapped.filter((t) => t.host === 'client').map((t) => t.segment);
    const podSide = net.tapped.filter((t) => t.host === POD).map((t) => t.segment);
    expect(clientSide).toHaveLength(8);
    expect(podSide).toHaveLength(8);
    const client = parseIPv4('192.168.100.1');
    const node = parseIPv4(NODE_IP);
    const podIp = parseIPv4('10.233.64.2');
    for (const s of clientSide) {
      const ends = [s.src, s.dst].sort();
      expect(ends).toEqual([client, node].sort());
      expect(s.sport === NODE_PORT || s.dport === NODE_PORT).toBe(true);
    }
    for (const s of podSide) {
      expect([s.src, s.dst].sort()).toEqual([node, podIp].sort());
      expect([s.sport, s.dport].sort()).toEqual([8080, NAT_PORT].sort());
    }

    const result = await checkCaptureWithTshark(pcap, TSHARK_OPTIONS);
    expect(result.problems).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.interfaces.map((i) => [i.name, i.frames])).toEqual([
      ['client/eth0', 8],
      [`${POD}/eth0`, 8],
    ]);
  });

  it('catches a copy of the same capture with one corrupted TCP checksum', async () => {
    const { pcap } = simulateConversation();
    const capture = readCapture(pcap);
    const copy = new PcapngWriter();
    for (const iface of capture.interfaces) copy.addInterface({ name: iface.name ?? `if${iface.id}` });
    const corrupted = 4; // the GET as the client sent it (frame 4 of the file)
    capture.packets.forEach((packet, index) => {
      const data = Uint8Array.from(packet.data);
      if (index + 1 === corrupted) data[14 + 20 + 16] ^= 0x5a; // TCP checksum, high byte
      copy.writePacket(packet.interfaceId, packet.timestampNs, data);
    });
    // The NAT gives each interface its own 4-tuple, so one pass over the whole file is
    // enough here (and keeps the test fast).
    const result = await checkCaptureWithTshark(copy.toBuffer(), { ...TSHARK_OPTIONS, perInterface: false });
    expect(result.ok).toBe(false);
    const bad = result.problems.filter((p) => p.check === 'tcp-checksum');
    expect(bad).toHaveLength(1);
    expect(bad[0].frames).toEqual([corrupted]);
  });
});
