/**
 * The explorer in a real headless Chromium, opened from file:// with every non-file
 * request intercepted (and failing the test): the drawing, a click on node2's NodePort in
 * every mode, the rules highlighted in the dump, the frames against the capture file,
 * keyboard use, and a screenshot.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import type { ExploreData } from '../../src/explore/index.js';
import { PROXY_MODES } from '../../src/proxy/common/datapath.js';
import { formatIPv4 } from '../../src/util/ipv4.js';
import { decodeFrame, findLayer } from '../../src/wire/index.js';
import { describeWithChromium, launchChromium } from '../helpers/chromium.js';
import { CONTRAST_PROBE } from '../helpers/contrast.js';
import { buildOriginSite } from './origin-site.js';

interface Watched {
  page: Page;
  consoleErrors: string[];
  network: string[];
}

describeWithChromium('dpsim explore in headless Chromium (origin scenario, file://, no network)', () => {
  let site: { dir: string; data: ExploreData; index: string };
  let browser: { context: BrowserContext; close: () => Promise<void> };

  beforeAll(async () => {
    site = await buildOriginSite(PROXY_MODES);
    browser = await launchChromium();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function open(hash = ''): Promise<Watched> {
    const page = await browser.context.newPage();
    const consoleErrors: string[] = [];
    const network: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') consoleErrors.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file:')) return route.continue();
      network.push(url);
      return route.abort();
    });
    await page.goto(`${pathToFileURL(site.index).href}${hash}`);
    await page.waitForSelector('svg.topology');
    return { page, consoleErrors, network };
  }

  it('loads from file:// with no console error and no network request', async () => {
    const w = await open();
    // Let the charts render (vega runs asynchronously) before judging.
    await w.page.waitForSelector('[data-distribution="default/myweb-svc-np"] .chart svg');
    await w.page.click('[data-service-port="default/myweb-svc-np"][data-entry="node2"]');
    await w.page.waitForSelector('[data-hop]');
    expect(w.consoleErrors).toEqual([]);
    expect(w.network).toEqual([]);
    await w.page.close();
  });

  it('draws the origin cluster: client, 3 nodes with their interfaces, 3 web pods and the 2 CoreDNS pods', async () => {
    const w = await open();
    const p = w.page;
    expect(await p.locator('svg [data-node]').count()).toBe(3);
    // myweb-rs' three pods, and kube-system's two CoreDNS pods (kubespray's DNS add-on).
    expect(await p.locator('svg [data-pod]').count()).toBe(5);
    expect(await p.locator('svg [data-host="client"]').count()).toBe(1);
    const nodes = await p
      .locator('svg [data-node]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-node')));
    expect(nodes.sort()).toEqual(['node1', 'node2', 'node3']);
    // Each pod's veth is drawn in its node.
    expect(await p.locator('svg [data-iface^="node"]').count()).toBe(8);
    // Service ports: ClusterIP and one NodePort per node.
    const entries = p.locator('[data-service-port="default/myweb-svc-np"]');
    expect(await entries.evaluateAll((els) => els.map((e) => e.getAttribute('data-entry')))).toEqual([
      'clusterIP',
      'node1',
      'node2',
      'node3',
    ]);
    await p.close();
  });

  for (const mode of PROXY_MODES) {
    it(`${mode}: clicking the NodePort on node2 shows the SYN's path to a pod and the SYN-ACK's back, with the DNAT rule highlighted and the connection's frames`, async () => {
      const w = await open(`#mode=${mode}`);
      const p = w.page;
      await p.click('[data-service-port="default/myweb-svc-np"][data-entry="node2"]');
      const view = site.data.modes.find((m) => m.mode === mode)!;
      const pods = view.topology.pods;
      const request = p.locator('.hops.request [data-hop]');
      const reply = p.locator('.hops.reply [data-hop]');
      const lastReq = request.last();
      expect(await lastReq.getAttribute('data-stage')).toBe('deliver');
      const podName = await lastReq.getAttribute('data-hop-host');
      const pod = pods.find((x) => x.name === podName);
      expect(pod, `request ends at a pod, not ${podName}`).toBeDefined();
      expect(await p.locator('[data-served-by]').getAttribute('data-served-by')).toBe(pod!.key);
      // …and back to the client.
      expect(await reply.last().getAttribute('data-stage')).toBe('deliver');
      expect(await reply.last().getAttribute('data-hop-host')).toBe('client');
      expect(await request.first().getAttribute('data-hop-host')).toBe('client');
      // The first node the SYN reaches is node2, addressed to its NodePort.
      const sp = view.services.find((s) => s.id === 'default/myweb-svc-np')!;
      const firstNodeRx = p.locator('.hops.request [data-hop-host="node2"] .packet').first();
      expect(await firstNodeRx.textContent()).toContain(`→ 192.168.100.101:${sp.nodePort} [S]`);
      // node2 DNATs to the pod that answered.
      const dnat = p.locator('[data-nat="DNAT"][data-nat-host="node2"]').first();
      expect(await dnat.textContent()).toContain(`192.168.100.101:${sp.nodePort} → ${pod!.ip}:8080`);
      // The arrows are drawn, and the pod's box is on the path.
      expect(await p.locator('svg .hop-arrow.request').count()).toBeGreaterThan(2);
      expect(await p.locator('svg .hop-arrow.reply').count()).toBeGreaterThan(2);
      expect(await p.locator(`svg [data-pod="${pod!.key}"].on-path`).count()).toBe(1);
      // The node2 dump is shown with the backend choice among its highlighted lines.
      await p.click('[data-dump-node="node2"]');
      const hits = await p.locator('pre.dump .line.hit').allTextContents();
      expect(hits.length).toBeGreaterThan(0);
      const podHex = pod!.ip
        .split('.')
        .map((b) => Number(b).toString(16).padStart(2, '0'))
        .join(' ');
      const backendLine: Record<string, string> = {
        iptables: `-j DNAT --to-destination ${pod!.ip}:8080`,
        nftables: `dnat to ${pod!.ip}:8080`,
        ipvs: `-> ${pod!.ip}:8080`,
        ebpf: `value: ${podHex} 1f 90`,
      };
      expect(
        hits.some((l) => l.includes(backendLine[mode])),
        hits.join('\n'),
      ).toBe(true);
      // Frames: each hop's frame number names that very packet in the mode's capture file.
      const range = (await p.locator('[data-frames]').getAttribute('data-frames'))!.split('-').map(Number);
      const capture = readCapture(readFileSync(join(site.dir, view.captureFile)));
      const shown = await p
        .locator('.hops [data-frame]')
        .evaluateAll((els) =>
          els.map((e) => ({ frame: Number(e.getAttribute('data-frame')), text: e.textContent ?? '' })),
        );
      expect(shown.length).toBeGreaterThan(4);
      for (const { frame, text } of shown) {
        expect(frame).toBeGreaterThanOrEqual(range[0]);
        expect(frame).toBeLessThanOrEqual(range[1]);
        const layers = decodeFrame(capture.packets[frame - 1].data).layers;
        const ip = findLayer(layers, 'ipv4')!;
        const tcp = findLayer(layers, 'tcp')!;
        expect(text).toContain(
          `${formatIPv4(ip.repr.src)}:${tcp.repr.srcPort} → ${formatIPv4(ip.repr.dst)}:${tcp.repr.dstPort}`,
        );
      }
      expect(w.consoleErrors).toEqual([]);
      expect(w.network).toEqual([]);
      await p.close();
    });
  }

  it('is usable without a mouse: Tab to the node2 NodePort, Enter shows its path', async () => {
    const w = await open();
    const p = w.page;
    let found = false;
    for (let i = 0; i < 40 && !found; i++) {
      await p.keyboard.press('Tab');
      const focused = p.locator(':focus');
      found =
        (await focused.getAttribute('data-entry')) === 'node2' &&
        (await focused.getAttribute('data-service-port')) === 'default/myweb-svc-np';
    }
    expect(found).toBe(true);
    await p.keyboard.press('Enter');
    expect(await p.locator('.hops.request [data-hop]').count()).toBeGreaterThan(5);
    // Focus stays on the chosen button after the page redraws, so Tab order continues from it.
    expect(await p.locator(':focus').getAttribute('data-entry')).toBe('node2');
    await p.close();
  });

  for (const mode of ['iptables', 'ebpf']) {
    it(`${mode}: every text has WCAG AA contrast (4.5:1) and the page fits a 1366-px laptop screen without sideways scrolling`, async () => {
      const w = await open(`#mode=${mode}`);
      const p = w.page;
      await p.click('[data-service-port="default/myweb-svc-np"][data-entry="node2"]');
      await p.waitForSelector('[data-distribution="default/myweb-svc-np"] .chart svg');
      const low = (await p.evaluate(`(${CONTRAST_PROBE})(4.5)`)) as string[];
      expect(low).toEqual([]);
      const widths = (await p.evaluate(
        '[document.documentElement.scrollWidth, window.innerWidth]',
      )) as number[];
      expect(widths[0]).toBeLessThanOrEqual(widths[1]);
      await p.close();
    });
  }

  it('writes a screenshot of the node2 NodePort path', async () => {
    const w = await open('#mode=iptables');
    await w.page.click('[data-service-port="default/myweb-svc-np"][data-entry="node2"]');
    await w.page.waitForSelector('[data-distribution="default/myweb-svc-np"] .chart svg');
    const file = join(site.dir, 'explorer.png');
    await w.page.screenshot({ path: file });
    const png = readFileSync(file);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // 1366x768 as the PNG header states, and not a blank page.
    expect(png.readUInt32BE(16)).toBe(1366);
    expect(png.readUInt32BE(20)).toBe(768);
    expect(statSync(file).size).toBeGreaterThan(50_000);
    await w.page.close();
  });
});
