/**
 * The README's document review (queued → in_review → approved | rejected; a question waits in
 * needs_answer; a failed attempt goes back to the queue while attempts remain), built with
 * defineLifecycle, for the tests of phaseline/testing. Faults are planted by replacing states.
 */
import { defineLifecycle, type JobContext, type Lifecycle, type LifecycleArgs } from '../../machines/index.ts';

export const apply = { actions: 'apply' } as const;
const retryOr = (target: string) => [{ guard: 'willRetry', target: 'queued', ...apply }, { target, ...apply }];

/** The reviewing state, which some planted faults change. */
export const IN_REVIEW = {
  tags: ['running'],
  on: {
    PROGRESS: apply,
    STEP: apply,
    ASK: { target: 'needs_answer', ...apply },
    SUCCEED: { target: 'approved', ...apply },
    FAIL: retryOr('rejected'),
    TIMEOUT: retryOr('rejected'),
    LEASE_LOST: retryOr('rejected'),
    RELEASE: { target: 'queued', ...apply },
    CANCEL: { target: 'withdrawn', ...apply },
  },
};

/** Actions and guards of the lifecycle's own. */
export interface ReviewExtras {
  actions?: Record<string, (args: LifecycleArgs) => Partial<JobContext>>;
  guards?: Record<string, (args: LifecycleArgs) => boolean>;
}

/** The review lifecycle, with some of its states replaced (a planted fault) and actions or guards of its own. */
export function review(states: Record<string, unknown> = {}, extra: ReviewExtras = {}): Lifecycle {
  return defineLifecycle({
    name: 'review', version: 1, initial: 'queued', ...extra,
    states: {
      queued: { tags: ['queued'], on: { CLAIM: { target: 'in_review', ...apply }, CANCEL: { target: 'withdrawn', ...apply } } },
      in_review: IN_REVIEW,
      needs_answer: { tags: ['waiting'], on: { REPLY: { target: 'queued', ...apply }, CANCEL: { target: 'withdrawn', ...apply } } },
      approved: { type: 'final', tags: ['terminal', 'succeeded'] },
      rejected: { type: 'final', tags: ['terminal', 'failed'] },
      withdrawn: { type: 'final', tags: ['terminal', 'cancelled'] },
      ...states,
    },
  });
}
