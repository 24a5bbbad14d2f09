/**
 * The browser for the dashboard's browser tests: Debian's Chromium (/usr/bin/chromium) driven by
 * playwright-core, headless, in a fresh profile folder. Where it is missing the tests are skipped
 * with one line saying so, except under CI=true, where a missing browser fails them.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = process.env.PHASELINE_CHROMIUM ?? '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let said = false;

/** Whether the browser tests run here; says once why not. Throws under CI=true when the browser is missing. */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.CI === 'true') throw new Error(`the dashboard's browser tests need Chromium at ${CHROMIUM} (CI=true: not skipped)`);
  if (!said) {
    said = true;
    console.log(`dashboard browser tests skipped: no Chromium at ${CHROMIUM}`);
  }
  return false;
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A headless Chromium with a profile of its own, removed on close. */
export async function launchBrowser(options: { width?: number; height?: number; colorScheme?: 'light' | 'dark' } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'phaseline-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: options.width ?? 1280, height: options.height ?? 900 },
    colorScheme: options.colorScheme ?? 'light',
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
