/**
 * Debian's chromium driven headless by playwright-core, for the explorer's browser tests.
 * Launched with a fresh profile and every background network feature off, so the only
 * requests the page can make are its own (which the tests intercept).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { describe, it } from 'vitest';

export const CHROMIUM = process.env.DPSIM_CHROMIUM ?? '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM);
}

/** A browser with a throw-away profile (`--user-data-dir`); close() removes the profile. */
export async function launchChromium(viewport = { width: 1366, height: 768 }): Promise<{
  context: BrowserContext;
  close: () => Promise<void>;
}> {
  const profile = mkdtempSync(join(tmpdir(), 'dpsim-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport,
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * `describe` for tests that need chromium. Missing chromium: under CI (process.env.CI set)
 * a failing test is registered; otherwise the suite is skipped visibly (reason in its name
 * and a console warning).
 */
export function describeWithChromium(name: string, body: () => void): void {
  const available = chromiumAvailable();
  if (!available && process.env.CI) {
    describe(name, () => {
      it('needs chromium, which is required when CI is set', () => {
        throw new Error(`chromium (${CHROMIUM}) is not installed: apt-get install chromium`);
      });
    });
    return;
  }
  if (!available) console.warn(`skipping "${name}": chromium is not installed at ${CHROMIUM}`);
  describe.skipIf(!available)(available ? name : `${name} (skipped: chromium not installed)`, body);
}
