/**
 * One job: what it is now (live), the actions its machine accepts, and a step-through of its
 * history: the job as it was after event N (replayed on the server), its diagram with the path up
 * to N, and the timeline of every event.
 */
import { raw } from 'hono/html';
import type { Job } from '../../engine/job-types.ts';
import type { StoredEvent } from '../../replay/types.ts';
import { ACTION_LABELS, type ActionName } from '../actions.ts';
import type { ReplyShape } from '../reply-form.ts';
import type { Divergence } from '../../replay/types.ts';
import { Instant, JsonBlock, Layout } from './layout.tsx';
import { ProgressCell, stateClass } from './list.tsx';

export interface StepViewProps {
  base: string;
  jobId: number;
  events: StoredEvent[];
  step: number;
  /** The job after event `step` (replayed), or null where the history does not replay that far. */
  atStep: Job | null;
  divergence: Divergence | null;
  /** The diagram, SVG markup made by renderDiagramSvg. */
  diagramSvg: string;
}

export interface JobPageProps extends StepViewProps {
  job: Job;
  actions: ActionName[];
  replyShape: ReplyShape;
  /** A refused action's message (the engine's typed error), shown above the actions. */
  problem: string | null;
  signedIn?: boolean;
}

function JobFields({ job }: { job: Job }) {
  const stateValue = typeof job.stateValue === 'string' ? job.stateValue : JSON.stringify(job.stateValue);
  return (
    <dl class="fields">
      <dt>Lifecycle</dt>
      <dd>{`${job.lifecycle} (version ${job.lifecycleVersion})`}</dd>
      <dt>Type</dt>
      <dd>{job.type}</dd>
      <dt>State</dt>
      <dd>
        <span class={stateClass(job)} data-field="state">
          {job.state}
        </span>
        {stateValue !== job.state ? <span class="msg">{`full state ${stateValue}`}</span> : null}
      </dd>
      <dt>Owner</dt>
      <dd>{job.owner ?? '—'}</dd>
      <dt>Attempt</dt>
      <dd>{String(job.attempt)}</dd>
      <dt>Progress</dt>
      <dd>
        <ProgressCell job={job} />
      </dd>
      <dt>Created</dt>
      <dd>
        <Instant at={job.createdAt} />
      </dd>
      <dt>Started</dt>
      <dd>
        <Instant at={job.startedAt} />
      </dd>
      <dt>Ended</dt>
      <dd>
        <Instant at={job.endedAt} />
      </dd>
      <dt>Updated</dt>
      <dd>
        <Instant at={job.updatedAt} />
      </dd>
      {job.destructionAt !== null ? (
        <>
          <dt>Destruction</dt>
          <dd>
            <Instant at={job.destructionAt} />
          </dd>
        </>
      ) : null}
      {job.cancelRequested ? (
        <>
          <dt>Cancellation</dt>
          <dd>requested</dd>
        </>
      ) : null}
      <dt>Parameters</dt>
      <dd>
        <JsonBlock value={job.params} label="Parameters" />
      </dd>
      <dt>Result</dt>
      <dd>
        <JsonBlock value={job.result} label="Result" />
      </dd>
      <dt>Errors</dt>
      <dd>
        {job.errors.length === 0 ? (
          '—'
        ) : (
          <ul>
            {job.errors.map((e) => (
              <li>
                {`attempt ${e.attempt}: ${e.name ? `${e.name}: ` : ''}${e.message}${e.kind ? ` (${e.kind})` : ''}`}
              </li>
            ))}
          </ul>
        )}
      </dd>
      <dt>Question</dt>
      <dd>
        <JsonBlock value={job.question} label="Question" />
      </dd>
      <dt>Reply</dt>
      <dd>
        <JsonBlock value={job.reply} label="Reply" />
      </dd>
    </dl>
  );
}

/** Events the timeline lists around the chosen one; the slider reaches the others. */
const TIMELINE_WINDOW = 100;

function Timeline({ base, jobId, events, step }: { base: string; jobId: number; events: StoredEvent[]; step: number }) {
  const from = Math.max(0, step - 1 - TIMELINE_WINDOW);
  const to = Math.min(events.length, step + TIMELINE_WINDOW);
  const shown = events.slice(from, to);
  return (
    <>
      {from > 0 ? (
        <p class="msg">
          <a href={`${base}/jobs/${jobId}?step=${from}`}>{`${from} earlier events`}</a>
        </p>
      ) : null}
      <ol class="timeline" aria-label="History">
        {shown.map((e) => (
          <li
            class={e.seq === step ? 'at' : e.seq > step ? 'later' : ''}
            data-seq={String(e.seq)}
            data-event={e.type}
            data-from={e.stateBefore ?? ''}
            data-to={e.stateAfter}
            aria-current={e.seq === step ? 'step' : undefined}
          >
            <span class="when">
              {`#${e.seq} · `}
              <time datetime={new Date(e.at).toISOString()}>{new Date(e.at).toISOString().replace('T', ' ')}</time>
            </span>{' '}
            <strong>{e.type}</strong> <span class="state">{`${e.stateBefore ?? '—'} → ${e.stateAfter}`}</span>
            {e.actor !== null ? <span class="msg">{`by ${e.actor}`}</span> : null}
            {e.payload !== null && Object.keys(e.payload).length > 0 ? (
              <details>
                <summary>payload</summary>
                <JsonBlock value={e.payload} label={`Payload of event ${e.seq}`} />
              </details>
            ) : null}
          </li>
        ))}
      </ol>
      {to < events.length ? (
        <p class="msg">
          <a href={`${base}/jobs/${jobId}?step=${to + 1}`}>{`${events.length - to} later events`}</a>
        </p>
      ) : null}
    </>
  );
}

/** The part of the job page that follows the chosen event: swapped in place by the browser script. */
export function StepView({ base, jobId, events, step, atStep, divergence, diagramSvg }: StepViewProps) {
  const last = events.length;
  const event = events[step - 1];
  return (
    <section id="step-view" aria-labelledby="step-heading" data-step={String(step)} data-last={String(last)}>
      <h2 id="step-heading">{step === last ? `Now: after event ${step} of ${last}` : `As it was after event ${step} of ${last}`}</h2>
      <form class="stepper" method="get" action={`${base}/jobs/${jobId}`} aria-label="Step through the history">
        <button type="submit" name="go" value="first" aria-label="First event" disabled={step <= 1}>
          « First
        </button>
        <button type="submit" name="go" value="prev" aria-label="Previous event" disabled={step <= 1}>
          ‹ Prev
        </button>
        <label for="step-input">Event</label>
        <input id="step-input" type="range" name="step" min="1" max={String(last)} value={String(step)} aria-valuetext={`event ${step} of ${last}${event ? `: ${event.type}` : ''}`} />
        <output for="step-input" id="step-output">{`${step} / ${last}${event ? ` ${event.type}` : ''}`}</output>
        <button type="submit" name="go" value="next" aria-label="Next event" disabled={step >= last}>
          Next ›
        </button>
        <button type="submit" name="go" value="last" aria-label="Last event" disabled={step >= last}>
          Last »
        </button>
        <noscript>
          <button type="submit" name="go" value="show">
            Show
          </button>
        </noscript>
      </form>
      <div class="grid2">
        <div>
          {atStep ? (
            <JobFields job={atStep} />
          ) : (
            <p class="notice error" role="alert">
              {`The history does not replay up to event ${step}${divergence ? `: at event ${divergence.seq ?? '?'} (${divergence.event ?? '?'}), ${divergence.cause}: ${divergence.field}` : ''}.`}
            </p>
          )}
        </div>
        <figure class="diagram" aria-label="State diagram">
          {raw(diagramSvg)}
          <figcaption class="msg">Thick edges: the path taken up to this event; outlined: the state after it.</figcaption>
        </figure>
      </div>
      <h2>History</h2>
      <Timeline base={base} jobId={jobId} events={events} step={step} />
    </section>
  );
}

function ReplyForm({ base, job, shape }: { base: string; job: Job; shape: ReplyShape }) {
  return (
    <form class="reply" method="post" action={`${base}/jobs/${job.id}/actions/reply`} aria-label="Reply to the question">
      <strong>Reply to the question</strong>
      {shape.kind === 'fields'
        ? shape.fields.map((f) => (
            <div class="field">
              <label>
                {f.label}
                {f.type === 'boolean' ? (
                  <input type="checkbox" name={`field.${f.name}`} />
                ) : f.options ? (
                  <select name={`field.${f.name}`} required>
                    {f.options.map((o) => (
                      <option value={o}>{o}</option>
                    ))}
                  </select>
                ) : (
                  <input name={`field.${f.name}`} type={f.type === 'number' ? 'number' : 'text'} step={f.type === 'number' ? 'any' : undefined} required />
                )}
              </label>
            </div>
          ))
        : null}
      {shape.kind === 'options' ? (
        <fieldset>
          <legend>Answer</legend>
          {shape.options.map((o, i) => (
            <label style="display:block">
              <input type="radio" name="choice" value={o} required checked={i === 0} /> {o}
            </label>
          ))}
        </fieldset>
      ) : null}
      {shape.kind === 'json' ? (
        <div class="field">
          <label>
            Answer (JSON)
            <textarea name="answer" required spellcheck={false}>
              {job.reply !== null ? JSON.stringify(job.reply) : ''}
            </textarea>
          </label>
        </div>
      ) : null}
      <div>
        <button type="submit" class="primary">
          {ACTION_LABELS.reply}
        </button>
      </div>
    </form>
  );
}

function Actions({ base, job, actions, shape }: { base: string; job: Job; actions: ActionName[]; shape: ReplyShape }) {
  if (actions.length === 0) return <p class="msg">No action is possible in this state.</p>;
  return (
    <div class="actions" id="actions">
      {actions.map((a) =>
        a === 'reply' ? (
          <ReplyForm base={base} job={job} shape={shape} />
        ) : (
          <form method="post" action={`${base}/jobs/${job.id}/actions/${a}`}>
            <button type="submit" class={a === 'delete' || a === 'cancel' ? 'danger' : 'primary'} data-action={a}>
              {ACTION_LABELS[a]}
            </button>
          </form>
        ),
      )}
    </div>
  );
}

/** Everything below the title: swapped in place by the browser script when the job changes state. */
export function JobLive(props: JobPageProps) {
  const { base, job } = props;
  return (
    <div id="job-live" data-job-id={String(job.id)} data-version={String(job.version)} data-state={job.state}>
      <section id="now" aria-labelledby="now-heading">
        <h2 id="now-heading" class="visually-hidden">
          Current state
        </h2>
        <p data-job-id={String(job.id)}>
          <span class={stateClass(job)} data-field="state">
            {job.state}
          </span>{' '}
          <ProgressCell job={job} />
        </p>
        {props.problem ? (
          <p class="notice error" role="alert" id="problem">
            {props.problem}
          </p>
        ) : null}
        <Actions base={base} job={job} actions={props.actions} shape={props.replyShape} />
      </section>
      <StepView {...props} />
    </div>
  );
}

export function JobPage(props: JobPageProps) {
  const { base, job } = props;
  return (
    <Layout title={`Job ${job.id}`} base={base} page="job" signedIn={props.signedIn}>
      <p>
        <a href={`${base}/`}>← Jobs</a>
      </p>
      <h1>{`Job ${job.id} · ${job.type}`}</h1>
      <p id="live-status" class="msg" aria-live="polite"></p>
      <JobLive {...props} />
    </Layout>
  );
}
