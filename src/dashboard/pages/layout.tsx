/** The frame of every dashboard page: navigation, the inline stylesheet and the browser script. */
import type { Child } from 'hono/jsx';
import { raw } from 'hono/html';
import { clientScriptVersion } from '../assets.ts';
import { STYLES } from '../styles.ts';

export interface PageProps {
  title: string;
  /** The dashboard's absolute path prefix (`/dashboard`), without a trailing slash. */
  base: string;
  /** Which page: the browser script reads it (`list`, `job`, `lifecycles`, `error`). */
  page: string;
  /** Signed in with a token kept in a cookie: the header offers to sign out. */
  signedIn?: boolean;
  children?: Child;
}

export function Layout({ title, base, page, signedIn, children }: PageProps) {
  const version = clientScriptVersion();
  return (
    <>
      {raw('<!DOCTYPE html>')}
      <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <link rel="icon" href="data:," />
        <title>{`${title} · Phaseline`}</title>
        <style>{raw(STYLES)}</style>
        <script type="module" src={`${base}/assets/client.js${version ? `?v=${version}` : ''}`}></script>
      </head>
      <body data-page={page} data-base={base}>
        <header class="top">
          <strong>Phaseline</strong>
          <nav aria-label="Dashboard">
            <a href={`${base}/`}>Jobs</a>
            <a href={`${base}/lifecycles`}>Lifecycles</a>
          </nav>
          {signedIn ? (
            <form method="post" action={`${base}/sign-out`} style="margin-left:auto">
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        <main id="main">{children}</main>
      </body>
      </html>
    </>
  );
}

/** The sign-in form: a bearer token, kept by the browser in an HttpOnly cookie for the dashboard's pages. */
export function SignInPage({ base, problem }: { base: string; problem: string | null }) {
  return (
    <Layout title="Sign in" base={base} page="sign-in">
      <h1>Sign in</h1>
      {problem ? (
        <p class="notice error" role="alert">
          {problem}
        </p>
      ) : null}
      <form method="post" action={`${base}/sign-in`} class="reply">
        <div class="field">
          <label>
            Token
            <input type="password" name="token" autocomplete="current-password" required />
          </label>
        </div>
        <div>
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </Layout>
  );
}

/** An instant as ISO 8601 in UTC (what the page shows; the timeline shows the milliseconds too). */
export function Instant({ at }: { at: number | null }) {
  if (at === null) return <span>—</span>;
  const iso = new Date(at).toISOString();
  return <time datetime={iso}>{iso.replace('T', ' ').replace('Z', ' UTC')}</time>;
}

/** A JSON value, pretty-printed. */
export function JsonBlock({ value, label }: { value: unknown; label: string }) {
  return <pre aria-label={label}>{value === undefined ? '—' : JSON.stringify(value, null, 2)}</pre>;
}
