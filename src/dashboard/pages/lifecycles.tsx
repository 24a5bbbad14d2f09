/** Every registered lifecycle (built-in and the app's own, each version) as a diagram with its jobs per state. */
import { raw } from 'hono/html';
import { Layout } from './layout.tsx';

export interface LifecycleView {
  name: string;
  version: number;
  /** SVG markup made by renderDiagramSvg, with the counts. */
  diagramSvg: string;
  counts: Array<{ state: string; count: number }>;
}

export function LifecyclesPage({ base, lifecycles, signedIn }: { base: string; lifecycles: LifecycleView[]; signedIn?: boolean }) {
  return (
    <Layout title="Lifecycles" base={base} page="lifecycles" signedIn={signedIn}>
      <h1>Lifecycles</h1>
      <div class="lifecycles">
        {lifecycles.map((l) => (
          <section aria-labelledby={`lc-${l.name}-${l.version}`} data-lifecycle={l.name}>
            <h2 id={`lc-${l.name}-${l.version}`}>{`${l.name} (version ${l.version})`}</h2>
            <figure class="diagram">{raw(l.diagramSvg)}</figure>
            <table>
              <caption class="visually-hidden">{`Jobs of ${l.name} per state`}</caption>
              <thead>
                <tr>
                  <th scope="col">State</th>
                  <th scope="col">Jobs</th>
                </tr>
              </thead>
              <tbody>
                {l.counts.map((c) => (
                  <tr data-state={c.state}>
                    <td>
                      <a class="state" href={`${base}/?lifecycle=${encodeURIComponent(l.name)}&state=${encodeURIComponent(c.state)}`}>
                        {c.state}
                      </a>
                    </td>
                    <td class="num" data-count="">
                      {String(c.count)}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))}
      </div>
    </Layout>
  );
}

export function ErrorPage({ base, title, message, signedIn }: { base: string; title: string; message: string; signedIn?: boolean }) {
  return (
    <Layout title={title} base={base} page="error" signedIn={signedIn}>
      <h1>{title}</h1>
      <p class="notice error" role="alert">
        {message}
      </p>
      <p>
        <a href={`${base}/`}>Back to the jobs</a>
      </p>
    </Layout>
  );
}
