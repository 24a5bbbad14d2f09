/**
 * The dashboard in a real browser (Chromium through playwright-core; test/support/browser.ts):
 * served by node:http from a SQLite file, mounted by createHttpApp at /dashboard, with two owners
 * and an admin. The list loads and filters; a running job's progress and state move without a
 * reload; a job's diagram draws its history's path edge for edge; stepping back shows the earlier
 * state; the reply form resumes an asking job; Cancel ends a running one; another owner's job is
 * neither listed nor reachable. Pages fit 375 px and follow the dark scheme.
 */
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { browserAvailable, launchBrowser, type Browser } from './support/browser.ts';
import { startDashboard, waitForState, type DashboardHarness } from './helpers/dashboard-harness.ts';

const run = browserAvailable();

describe.runIf(run)('dashboard in a browser', () => {
  let h: DashboardHarness;
  let browser: Browser;
  const ids = {} as { alices: number; bobs: number; roots: number };
  /** Errors the pages' script threw: there must be none. */
  const scriptErrors: string[] = [];

  /** A page whose requests carry the caller's bearer token. */
  async function pageAs(who: string): Promise<Page> {
    const page = await browser.context.newPage();
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${who}` });
    page.on('pageerror', (error) => scriptErrors.push(error.message));
    return page;
  }

  /** Marks the document, so that a later check can tell that no reload happened. */
  const mark = (page: Page) => page.evaluate('window.marked = true');
  const stillMarked = (page: Page) => page.evaluate('window.marked === true');
  const live = (page: Page) => page.waitForSelector('body[data-live="open"]');

  beforeAll(async () => {
    h = await startDashboard({ mount: 'http' });
    browser = await launchBrowser();
    ids.alices = await h.phaseline.enqueue('test.quick', {}, { owner: 'alice' });
    ids.bobs = await h.phaseline.enqueue('test.quick', {}, { owner: 'bob' });
    ids.roots = await h.phaseline.enqueue('test.review', {}, { owner: 'root' });
    await waitForState(h.phaseline, ids.alices, 'COMPLETED');
    await waitForState(h.phaseline, ids.bobs, 'COMPLETED');
    await waitForState(h.phaseline, ids.roots, 'approved');
  });
  // A script error on any page fails the test that loaded it.
  afterEach(() => {
    expect(scriptErrors).toEqual([]);
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('loads the list and filters it', async () => {
    const page = await pageAs('root');
    await page.goto(`${h.origin}/dashboard/`);
    const listed = () => page.$$eval('#jobs tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-job-id'))));
    expect((await listed()).sort()).toEqual([ids.alices, ids.bobs, ids.roots].sort());
    await page.getByLabel('Lifecycle').selectOption('review');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(/lifecycle=review/);
    expect(await listed()).toEqual([ids.roots]);
    await page.getByLabel('Job id').fill(String(ids.bobs));
    await page.getByLabel('Lifecycle').selectOption('');
    await page.getByLabel('Job id').press('Enter');
    await page.waitForURL(new RegExp(`id=${ids.bobs}`));
    expect(await listed()).toEqual([ids.bobs]);
    await page.close();
  });

  it('moves a running job’s progress bar and state live, without a reload', async () => {
    const page = await pageAs('alice');
    await page.goto(`${h.origin}/dashboard/`);
    await live(page);
    await mark(page);
    const id = await h.phaseline.enqueue('test.steps', {}, { owner: 'alice' });
    const row = page.locator(`tr[data-job-id="${id}"]`);
    const bar = row.locator('progress');
    await expect.poll(() => bar.evaluate((el) => (el as unknown as { value: number }).value), { timeout: 10_000 }).toBe(10);
    await expect.poll(() => row.locator('[data-field="message"]').textContent()).toBe('started');
    expect(await row.locator('[data-field="state"]').textContent()).toBe('JOB_STATUS_RUNNING');
    h.gates.open(`${id}:half`);
    await expect.poll(() => bar.evaluate((el) => (el as unknown as { value: number }).value), { timeout: 10_000 }).toBe(60);
    await expect.poll(() => row.locator('[data-field="message"]').textContent()).toBe('half way');
    h.gates.open(`${id}:end`);
    await expect.poll(() => row.locator('[data-field="state"]').textContent(), { timeout: 10_000 }).toBe('JOB_STATUS_SUCCEEDED');
    expect(await stillMarked(page)).toBe(true);
    await page.close();
  });

  it('draws the job’s path on its diagram edge for edge, and steps back to an earlier state', async () => {
    const id = await h.phaseline.enqueue('test.steps', {}, { owner: 'alice' });
    h.gates.open(`${id}:half`);
    h.gates.open(`${id}:end`);
    await waitForState(h.phaseline, id, 'JOB_STATUS_SUCCEEDED');
    const history = await h.phaseline.history(id);
    const page = await pageAs('alice');
    await page.goto(`${h.origin}/dashboard/jobs/${id}`);

    // Every arrow the history went along, with how often, and no other.
    const expected = new Map<string, number>();
    for (const e of history) {
      if (e.stateBefore === null || e.type === 'CREATE') continue;
      const key = `${e.stateBefore}→${e.stateAfter}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const drawn = await page.$$eval('#step-view svg path.pl-edge.taken', (paths) =>
      paths.map((p) => [`${p.getAttribute('data-from')}→${p.getAttribute('data-to')}`, Number(p.getAttribute('data-count'))] as const),
    );
    expect(new Map(drawn)).toEqual(expected);
    expect(drawn.length).toBe(expected.size);
    expect(await page.getAttribute('#step-view svg g.current', 'data-state')).toBe('JOB_STATUS_SUCCEEDED');

    // Step back with the keyboard (the slider) and the buttons: the page follows without a reload.
    await mark(page);
    const last = history.length;
    await page.focus('#step-input');
    await page.keyboard.press('ArrowLeft');
    await page.waitForSelector(`#step-view[data-step="${last - 1}"]`);
    expect(await page.locator('#step-view dl [data-field="state"]').textContent()).toBe(history[last - 2]!.stateAfter);
    await page.getByRole('button', { name: 'First event' }).click();
    await page.waitForSelector('#step-view[data-step="1"]');
    const initial = history[0]!.stateAfter;
    expect(await page.locator('#step-view dl [data-field="state"]').textContent()).toBe(initial);
    expect(await page.getAttribute('#step-view svg g.current', 'data-state')).toBe(initial);
    expect(await page.$$('#step-view svg path.pl-edge.taken')).toHaveLength(0);
    // Forward again, one event at a time up to the claim: each step's state and arrows taken so far.
    const claim = history.findIndex((e) => e.type === 'CLAIM') + 1;
    expect(claim).toBeGreaterThan(1);
    for (let step = 2; step <= claim; step++) {
      await page.getByRole('button', { name: 'Next event' }).click();
      await page.waitForSelector(`#step-view[data-step="${step}"]`);
      expect(await page.locator('#step-view dl [data-field="state"]').textContent()).toBe(history[step - 1]!.stateAfter);
      const edges = new Set(history.slice(1, step).map((e) => `${e.stateBefore}->${e.stateAfter}`));
      expect(await page.$$('#step-view svg path.pl-edge.taken')).toHaveLength(edges.size);
    }
    expect(await page.getAttribute('#step-view svg g.current', 'data-state')).toBe(history[claim - 1]!.stateAfter);
    expect(page.url()).toContain(`step=${claim}`);
    expect(await stillMarked(page)).toBe(true);
    await page.close();
  });

  it('replies to an asking EcoTaxa job from the form, and the job resumes to success', async () => {
    const id = await h.phaseline.enqueue('test.ask', {}, { owner: 'alice' });
    await waitForState(h.phaseline, id, 'A');
    const page = await pageAs('alice');
    await page.goto(`${h.origin}/dashboard/jobs/${id}`);
    await page.getByLabel('Taxon').selectOption('diatoms');
    await page.getByLabel('Count').fill('4');
    await page.getByRole('button', { name: 'Send reply' }).click();
    await waitForState(h.phaseline, id, 'F');
    expect((await h.phaseline.get(id)).result).toEqual({ mapped: 'diatoms', count: 4 });
    await expect.poll(() => page.locator('#now [data-field="state"]').textContent(), { timeout: 10_000 }).toBe('F');
    await page.close();
  });

  it('cancels a running RIME job', async () => {
    const id = await h.phaseline.enqueue('test.long', {}, { owner: 'alice' });
    await waitForState(h.phaseline, id, 'JOB_STATUS_RUNNING');
    const page = await pageAs('alice');
    await page.goto(`${h.origin}/dashboard/jobs/${id}`);
    await page.getByRole('button', { name: 'Cancel' }).click();
    await waitForState(h.phaseline, id, 'JOB_STATUS_CANCELLED');
    await expect.poll(() => page.locator('#now [data-field="state"]').textContent(), { timeout: 10_000 }).toBe('JOB_STATUS_CANCELLED');
    // Cancel is not offered any more; Delete is.
    expect(await page.locator('button[data-action="cancel"]').count()).toBe(0);
    expect(await page.locator('button[data-action="delete"]').count()).toBe(1);
    await page.close();
  });

  it('neither lists nor opens another owner’s job', async () => {
    const page = await pageAs('alice');
    await page.goto(`${h.origin}/dashboard/`);
    const listed = await page.$$eval('#jobs tbody tr', (rows) => rows.map((r) => Number(r.getAttribute('data-job-id'))));
    expect(listed).toContain(ids.alices);
    expect(listed).not.toContain(ids.bobs);
    const theirs = await page.goto(`${h.origin}/dashboard/jobs/${ids.bobs}`);
    expect(theirs?.status()).toBe(404);
    const theirText = await page.locator('main').textContent();
    const missing = await page.goto(`${h.origin}/dashboard/jobs/999999`);
    expect(missing?.status()).toBe(404);
    expect(await page.locator('main').textContent()).toBe(theirText);
    await page.close();
  });

  it('fits a 375 px screen and follows the dark scheme', async () => {
    const narrow = await launchBrowser({ width: 375, height: 800, colorScheme: 'dark' });
    try {
      const page = await narrow.context.newPage();
      await page.setExtraHTTPHeaders({ authorization: 'Bearer root' });
      for (const path of ['/dashboard/', `/dashboard/jobs/${ids.alices}`, '/dashboard/lifecycles']) {
        await page.goto(`${h.origin}${path}`);
        expect(await page.evaluate('document.documentElement.scrollWidth'), path).toBeLessThanOrEqual(375);
      }
      const background = (await page.evaluate('getComputedStyle(document.body).backgroundColor')) as string;
      const [r, g, b] = background.match(/\d+/g)!.map(Number);
      expect(r! + g! + b!).toBeLessThan(150);
    } finally {
      await narrow.close();
    }
  });
});
