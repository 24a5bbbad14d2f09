/**
 * The dashboard's browser script (bundled by esbuild; the pages work without it): live rows,
 * counts and progress from the server's event stream, and the job page's step-through without a
 * reload (the server replays the history; this only swaps the part of the page it sends).
 */

interface LiveJob {
  id: number;
  lifecycle: string;
  type: string;
  state: string;
  owner: string | null;
  version: number;
  percent: number;
  message: string | null;
  waiting: boolean;
  terminal: boolean;
  outcome: string | null;
  createdAt: number;
  event: string;
  stateBefore: string | null;
}

const body = document.body;
const base = body.dataset.base ?? '';
const page = body.dataset.page;

function setStatus(text: string): void {
  const status = document.getElementById('live-status');
  if (status) status.textContent = text;
}

/** Progress, message and state of one job wherever the page shows them (inside `scope`). */
function paint(scope: ParentNode, job: LiveJob): void {
  const percent = Math.round(job.percent);
  for (const bar of scope.querySelectorAll<HTMLProgressElement>('[data-field="progress"]')) {
    bar.value = percent;
    bar.textContent = `${percent}%`;
  }
  for (const el of scope.querySelectorAll('[data-field="percent"]')) el.textContent = `${percent}%`;
  for (const el of scope.querySelectorAll('[data-field="message"]')) el.textContent = job.message ?? '';
  for (const el of scope.querySelectorAll('[data-field="state"]')) {
    el.textContent = job.state;
    el.className = job.outcome ? `state ${job.outcome}` : 'state';
  }
}

/** `shown`: `id:version` of each job the page shows, so the server sends what changed before the stream opened. */
function connect(shown: string[], onJob: (job: LiveJob) => void, onDeleted: (id: number) => void): void {
  const source = new EventSource(`${base}/events?ids=${shown.join(',')}`);
  source.addEventListener('open', () => {
    body.dataset.live = 'open';
    setStatus('');
  });
  source.addEventListener('error', () => {
    body.dataset.live = 'reconnecting';
    setStatus('Live updates interrupted; reconnecting…');
  });
  source.addEventListener('job', (e) => onJob(JSON.parse((e as MessageEvent<string>).data) as LiveJob));
  source.addEventListener('deleted', (e) => onDeleted((JSON.parse((e as MessageEvent<string>).data) as { id: number }).id));
}

// ── Jobs list ───────────────────────────────────────────────────────────

function listPage(): void {
  const table = document.getElementById('jobs') as HTMLTableElement | null;
  if (!table) return;
  const tbody = table.tBodies[0]!;
  const filter = table.dataset;
  const rowOf = (id: number) => tbody.querySelector<HTMLTableRowElement>(`tr[data-job-id="${id}"]`);
  const shown = [...tbody.rows].map((r) => `${r.dataset.jobId}:${r.dataset.version}`);
  const matches = (job: LiveJob, withState: boolean) =>
    (!filter.filterLifecycle || filter.filterLifecycle === job.lifecycle) &&
    (!filter.filterType || filter.filterType === job.type) &&
    (!filter.filterOwner || filter.filterOwner === job.owner) &&
    (!withState || !filter.filterState || filter.filterState === job.state);

  const count = (lifecycle: string, state: string, delta: number) => {
    const counts = document.getElementById('counts');
    if (!counts) return;
    let section = counts.querySelector<HTMLElement>(`section[data-lifecycle="${CSS.escape(lifecycle)}"]`);
    if (!section) {
      if (delta < 0) return;
      section = document.createElement('section');
      section.dataset.lifecycle = lifecycle;
      section.innerHTML = '<h3></h3><ul></ul>';
      section.querySelector('h3')!.textContent = lifecycle;
      counts.append(section);
    }
    let link = section.querySelector<HTMLAnchorElement>(`a[data-count-state="${CSS.escape(state)}"]`);
    if (!link) {
      if (delta < 0) return;
      const li = document.createElement('li');
      link = document.createElement('a');
      link.dataset.countState = state;
      link.href = `${base}/?lifecycle=${encodeURIComponent(lifecycle)}&state=${encodeURIComponent(state)}`;
      link.innerHTML = '<span class="state"></span> <span data-count>0</span>';
      link.querySelector('.state')!.textContent = state;
      li.append(link);
      section.querySelector('ul')!.append(li);
    }
    const n = link.querySelector('[data-count]')!;
    n.textContent = String(Math.max(0, Number(n.textContent) + delta));
  };

  const newRow = (job: LiveJob): HTMLTableRowElement => {
    const row = tbody.insertRow(0);
    row.dataset.jobId = String(job.id);
    row.dataset.lifecycle = job.lifecycle;
    const labels = ['Id', 'Lifecycle', 'Type', 'State', 'Owner', 'Created', 'Progress'];
    const cells = labels.map((label) => {
      const cell = row.insertCell();
      cell.dataset.label = label;
      return cell;
    });
    const link = document.createElement('a');
    link.href = `${base}/jobs/${job.id}`;
    link.textContent = String(job.id);
    cells[0]!.className = 'num';
    cells[0]!.append(link);
    cells[1]!.innerHTML = '<span></span>';
    cells[1]!.firstElementChild!.textContent = job.lifecycle;
    cells[2]!.innerHTML = '<span></span>';
    cells[2]!.firstElementChild!.textContent = job.type;
    cells[3]!.innerHTML = '<span class="state" data-field="state"></span>';
    cells[4]!.innerHTML = '<span></span>';
    cells[4]!.firstElementChild!.textContent = job.owner ?? '—';
    const time = document.createElement('time');
    const iso = new Date(job.createdAt).toISOString();
    time.dateTime = iso;
    time.textContent = iso.replace('T', ' ').replace('Z', ' UTC');
    cells[5]!.append(time);
    cells[6]!.innerHTML = `<progress max="100" value="0" data-field="progress"></progress> <span data-field="percent"></span><span class="msg" data-field="message"></span>`;
    cells[6]!.querySelector('progress')!.setAttribute('aria-label', `Progress of job ${job.id}`);
    return row;
  };

  connect(
    shown,
    (job) => {
      let row = rowOf(job.id);
      if (row && Number(row.dataset.version) >= job.version) return; // shown already
      // What the page counted the job in: its row's state where it shows one.
      const before = row ? row.querySelector('[data-field="state"]')?.textContent ?? null : job.stateBefore;
      if (before !== job.state && matches(job, false)) {
        if (before !== null) count(job.lifecycle, before, -1);
        count(job.lifecycle, job.state, +1);
      }
      if (!row && job.event === 'CREATE' && filter.firstPage === 'true' && matches(job, true)) row = newRow(job);
      if (row) {
        paint(row, job);
        row.dataset.version = String(job.version);
      }
    },
    (id) => {
      const row = rowOf(id);
      if (!row) return;
      const lifecycle = row.dataset.lifecycle;
      const state = row.querySelector('[data-field="state"]')?.textContent;
      if (lifecycle && state) count(lifecycle, state, -1);
      row.remove();
    },
  );
}

// ── Job page ────────────────────────────────────────────────────────────

/** Replace the element of the same id with the one in `html`; focus goes back to the control that had it. */
function swap(id: string, html: string): void {
  const old = document.getElementById(id);
  if (!old) return;
  const focused = document.activeElement as HTMLElement | null;
  const focusKey = focused && old.contains(focused) ? focused.id || (focused as HTMLButtonElement).value || null : null;
  const template = document.createElement('template');
  template.innerHTML = html.trim();
  const fresh = template.content.getElementById(id) ?? (template.content.firstElementChild as HTMLElement | null);
  if (!fresh) return;
  old.replaceWith(fresh);
  if (focusKey) {
    const target = document.getElementById(focusKey) ?? fresh.querySelector<HTMLElement>(`button[value="${CSS.escape(focusKey)}"]`);
    if (target && !(target as HTMLButtonElement).disabled) target.focus();
    else document.getElementById('step-input')?.focus();
  }
  wireStepper();
}

let stepRequest = 0;

async function showStep(step: number): Promise<void> {
  const view = document.getElementById('step-view');
  const last = Number(view?.dataset.last ?? step);
  const n = Math.min(last, Math.max(1, step));
  const mine = ++stepRequest;
  const url = new URL(location.href);
  url.searchParams.delete('go');
  url.searchParams.set('step', String(n));
  const response = await fetch(`${url.pathname}?step=${n}&fragment=step`, { headers: { accept: 'text/html' } });
  if (!response.ok || mine !== stepRequest) return;
  swap('step-view', await response.text());
  history.replaceState(null, '', n === last ? url.pathname : `${url.pathname}?step=${n}`);
}

let stepTimer: ReturnType<typeof setTimeout> | undefined;

function wireStepper(): void {
  const view = document.getElementById('step-view');
  const form = view?.querySelector<HTMLFormElement>('form.stepper');
  const input = document.getElementById('step-input') as HTMLInputElement | null;
  if (!view || !form || !input || form.dataset.wired) return;
  form.dataset.wired = 'true';
  const current = () => Number(view.dataset.step);
  const last = () => Number(view.dataset.last);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const go = ((e as SubmitEvent).submitter as HTMLButtonElement | null)?.value;
    const to = go === 'first' ? 1 : go === 'prev' ? current() - 1 : go === 'next' ? current() + 1 : go === 'last' ? last() : Number(input.value);
    void showStep(to);
  });
  input.addEventListener('input', () => {
    const output = document.getElementById('step-output');
    if (output) output.textContent = `${input.value} / ${last()}`;
    clearTimeout(stepTimer);
    stepTimer = setTimeout(() => void showStep(Number(input.value)), 120);
  });
}

function jobPage(): void {
  const live = document.getElementById('job-live');
  if (!live) return;
  const id = Number(live.dataset.jobId);
  wireStepper();
  let refreshing = false;
  let again = false;
  const refresh = async () => {
    if (refreshing) return void (again = true);
    refreshing = true;
    try {
      do {
        again = false;
        // Someone typing a reply keeps their form: only the live figures move meanwhile.
        if (document.activeElement?.closest('form.reply')) continue;
        const view = document.getElementById('step-view');
        const atLast = !view || view.dataset.step === view.dataset.last;
        const step = atLast ? '' : `&step=${view!.dataset.step}`;
        const response = await fetch(`${location.pathname}?fragment=live${step}`, { headers: { accept: 'text/html' } });
        if (response.ok) swap('job-live', await response.text());
      } while (again);
    } finally {
      refreshing = false;
    }
  };
  connect(
    [`${id}:${live.dataset.version}`],
    (job) => {
      if (job.id !== id) return;
      const shownVersion = Number(document.getElementById('job-live')?.dataset.version ?? 0);
      if (job.version <= shownVersion) return;
      const view = document.getElementById('step-view');
      const atLast = !view || view.dataset.step === view.dataset.last;
      // The figures move at once (in the step view too when it shows the present)...
      const scope = atLast ? document.getElementById('job-live') : document.getElementById('now');
      if (scope) paint(scope, job);
      // ...a state change changes the actions, the diagram and the history: those come from the server.
      const shownState = document.querySelector('#job-live')?.getAttribute('data-state');
      if (job.stateBefore !== job.state || shownState !== job.state) void refresh();
    },
    (deleted) => {
      if (deleted === id) setStatus('This job was deleted.');
    },
  );
}

if (page === 'list') listPage();
if (page === 'job') jobPage();
