/**
 * `phaseline graph` and `phaseline check`, as real CLI processes: a built-in lifecycle's Mermaid
 * diagram names every state it can reach, DOT on request; a user's lifecycle from --lifecycles;
 * check passes the built-in and the sound lifecycle and exits 1 with the rule and a shrunk
 * sequence for a planted fault; a lifecycle nobody has is one line, exit 2.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UWS_PHASES } from '../machines/index.ts';
import { FIXTURES, isOneLineError, phaseline } from './fixtures/cli/run.ts';

const module = join(FIXTURES, 'leaky-review.ts');

describe('phaseline graph', () => {
  it('prints a Mermaid state diagram of UWS naming every phase it can reach, and DOT with --format dot', () => {
    const mermaid = phaseline(['graph', 'uws']);
    expect(mermaid.code, mermaid.err).toBe(0);
    const lines = mermaid.out.trim().split('\n');
    expect(lines[0]).toBe('stateDiagram-v2');
    const named = lines.flatMap((line) => /^ {2}state "([^"]+)" as s\d+$/.exec(line)?.[1] ?? []).map((name) => name.split('.')[0]);
    // UNKNOWN is a wire value no job is ever in.
    expect(new Set(named)).toEqual(new Set(UWS_PHASES.filter((p) => p !== 'UNKNOWN')));
    expect(lines).toContain('  [*] --> s0');
    const dot = phaseline(['graph', 'uws', '--format', 'dot']);
    expect(dot.code, dot.err).toBe(0);
    expect(dot.out).toMatch(/^digraph /);
  });

  it('draws a lifecycle of --lifecycles, at the version asked for', () => {
    const v1 = phaseline(['--lifecycles', module, 'graph', 'review', '--lifecycle-version', '1']);
    expect(v1.code, v1.err).toBe(0);
    expect(v1.out).toContain('state "in_review"');
    const v2 = phaseline(['--lifecycles', module, 'graph', 'review']);
    expect(v2.out).not.toEqual(v1.out); // the planted exit out of rejected
  });

  it('a lifecycle nobody has, or a format it does not know, is one line and exit 2', () => {
    const unknown = phaseline(['graph', 'nope']);
    expect(unknown.code).toBe(2);
    expect(isOneLineError(unknown), unknown.err).toBe(true);
    expect(unknown.err).toContain('no lifecycle nope');
    const format = phaseline(['graph', 'uws', '--format', 'png']);
    expect(format.code).toBe(2);
    expect(isOneLineError(format), format.err).toBe(true);
  });
});

describe('phaseline check', () => {
  it('passes a built-in lifecycle and a sound one of the user, with the seed it used', () => {
    const rime = phaseline(['check', 'rime', '--runs', '40', '--seed', '7']);
    expect(rime.code, rime.err).toBe(0);
    expect(rime.out).toMatch(/rime@1: \d+ reachable states, \d+ transitions, 0 problems/);
    expect(rime.out).toMatch(/40 random sequences, .*every rule held; seed 7/);
    const own = phaseline(['--lifecycles', module, 'check', 'review', '--lifecycle-version', '1', '--runs', '40']);
    expect(own.code, own.out).toBe(0);
    expect(own.out).toContain('review@1: ');
  });

  it('a terminal state that can be left: exit 1, the exit named, the rule broken and a short counterexample', () => {
    const run = phaseline(['--lifecycles', module, 'check', 'review', '--runs', '200', '--seed', '3', '--json']);
    expect(run.code, run.err).toBe(1);
    const report = JSON.parse(run.out) as { ok: boolean; problems: Array<{ kind: string }>; failure: { rule: string; events: unknown[]; seed: number } };
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toEqual(['terminal-exit']);
    expect(report.failure.rule).toBe('terminal-accepts');
    expect(report.failure.events.length).toBeLessThanOrEqual(5);
    expect(report.failure.seed).toBe(3);
  });
});
