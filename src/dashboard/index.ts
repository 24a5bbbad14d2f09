/** `phaseline/dashboard`: the web dashboard, a Hono app to serve or mount (see app.ts). */
export { createDashboard, type DashboardOptions } from './app.ts';
export type { Caller } from '../http/app.ts';
