/**
 * LeaseWatch, the runner's expiry judge, on an injected monotonic clock: a lease is expired once
 * the record this observer saw has stayed the same for the holder's duration, from the moment it
 * first saw it, whatever instant the record names. (The model test drives it against the engine
 * with skewed workers; this pins the rule's edges.)
 */
import { describe, expect, test } from 'vitest';
import { leaseDurationOf, LeaseWatch, newLeaseId } from '../src/runner/leases.ts';

const row = (id: number, leaseId: string | null, leaseExpiresAt: number | null) => ({ id, leaseId, leaseExpiresAt });

describe('LeaseWatch', () => {
  test('an expiry instant far in the past is not expired until the record has stood still for the lease', () => {
    let now = 5_000;
    const watch = new LeaseWatch(1000, () => now);
    const lease = newLeaseId(300);
    const rows = [row(1, lease, 0)]; // instant 0: "expired" by any wall clock
    expect(watch.expired(rows)).toEqual([]);
    now += 299;
    expect(watch.expired(rows)).toEqual([]);
    now += 1;
    expect(watch.expired(rows).map((r) => r.id)).toEqual([1]);
  });

  test('every renewal restarts the observation, even one that names an earlier instant', () => {
    let now = 0;
    const watch = new LeaseWatch(1000, () => now);
    const lease = newLeaseId(300);
    let expiresAt = 10_000_000;
    for (let i = 0; i < 10; i++) {
      expect(watch.expired([row(1, lease, expiresAt)])).toEqual([]);
      now += 250;
      expiresAt -= 1_000; // the holder's clock stepped back
    }
    expect(watch.expired([row(1, lease, expiresAt)])).toEqual([]);
    now += 300;
    expect(watch.expired([row(1, lease, expiresAt)]).map((r) => r.id)).toEqual([1]);
  });

  test("the holder's duration counts, not the observer's; an id that names none gets the observer's", () => {
    let now = 0;
    const watch = new LeaseWatch(1000, () => now);
    const rows = [row(1, newLeaseId(5000), 1), row(2, 'legacy-lease', 1), row(3, newLeaseId(200), 1)];
    watch.expired(rows);
    now = 200;
    expect(watch.expired(rows).map((r) => r.id)).toEqual([3]);
    now = 1000;
    expect(watch.expired(rows).map((r) => r.id)).toEqual([2, 3]);
    now = 4999;
    expect(watch.expired(rows).map((r) => r.id)).toEqual([2, 3]);
    now = 5000;
    expect(watch.expired(rows).map((r) => r.id)).toEqual([1, 2, 3]);
  });

  test('a new lease on the same job is a new record; a job that stopped running is forgotten; no lease is expired at once', () => {
    let now = 0;
    const watch = new LeaseWatch(1000, () => now);
    watch.expired([row(1, newLeaseId(100), 1), row(2, null, null)]);
    now = 100;
    expect(watch.expired([row(1, newLeaseId(100), 1), row(2, null, null)]).map((r) => r.id)).toEqual([2]);
    expect(watch.expired([])).toEqual([]);
    now = 1000;
    expect(watch.expired([row(1, 'x.100', 1)]), 'seen again after it stopped: observed afresh').toEqual([]);
    watch.reset();
    now = 1100;
    expect(watch.expired([row(1, 'x.100', 1)]), 'a reset observer starts over').toEqual([]);
  });

  test('lease ids name their duration', () => {
    expect(leaseDurationOf(newLeaseId(30_000))).toBe(30_000);
    expect(newLeaseId(30_000)).toMatch(/^[0-9a-f-]{36}\.30000$/);
    for (const id of ['L1', 'lease.', 'lease.0', 'lease.-5', 'lease.2e3', 'a.b']) expect(leaseDurationOf(id), id).toBeNull();
  });
  test('shortestMs: the shortest lease among the records last seen (what paces the scan), else the fallback', () => {
    const watch = new LeaseWatch(600_000, () => 0);
    expect(watch.shortestMs).toBe(600_000);
    watch.expired([row(1, newLeaseId(5_000), 1), row(2, newLeaseId(90_000), 1)]);
    expect(watch.shortestMs).toBe(5_000);
    watch.expired([row(2, newLeaseId(90_000), 1)]); // job 1 stopped running: forgotten
    expect(watch.shortestMs).toBe(90_000);
  });
});
