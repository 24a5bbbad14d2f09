/** `phaseline/dashboard`: the web dashboard, a Hono app to serve or mount (see app.tsx). */
export { createDashboard, type DashboardOptions } from './app.tsx';
export type { Caller } from '../http/app.ts';
