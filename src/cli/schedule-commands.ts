/** `phaseline schedules [list|pause|resume|delete] [name]`: the stored cron schedules. */
import type { Phaseline } from '../phaseline.ts';
import type { Schedule } from '../schedules/types.ts';
import { CliError, EXIT } from './errors.ts';
import { json } from './print.ts';
import { table } from './table.ts';

export type ScheduleAction = 'list' | 'pause' | 'resume' | 'delete';
export const SCHEDULE_ACTIONS: readonly ScheduleAction[] = ['list', 'pause', 'resume', 'delete'];

function missed(schedule: Schedule): string {
  return typeof schedule.missed === 'string' ? schedule.missed : `backfill ${schedule.missed.backfill}`;
}

export function schedulesTable(schedules: Schedule[]): string {
  if (schedules.length === 0) return 'no schedules\n';
  return `${table(
    ['name', 'cron', 'timezone', 'type', 'overlap', 'missed', 'paused', 'next', 'last job'],
    schedules.map((s) => [
      s.name, s.cron, s.timezone ?? 'UTC', s.type, s.overlap, missed(s), s.paused ? 'yes' : 'no',
      s.paused ? null : new Date(s.nextAt).toISOString().replace(/\.000Z$/, 'Z'), s.lastJobId,
    ]),
    { shrink: ['name', 'type'] },
  )}\n`;
}

export async function schedulesCommand(p: Phaseline, action: string | undefined, name: string | undefined, asJson: boolean): Promise<number> {
  const what = (action ?? 'list') as ScheduleAction;
  if (!SCHEDULE_ACTIONS.includes(what)) throw new CliError(`unknown action ${JSON.stringify(action)}: expected one of ${SCHEDULE_ACTIONS.join(', ')}`);
  if (what === 'list') {
    if (name !== undefined) throw new CliError('schedules list takes no name');
    const schedules = await p.schedules();
    process.stdout.write(asJson ? json(schedules) : schedulesTable(schedules));
    return EXIT.ok;
  }
  if (name === undefined) throw new CliError(`schedules ${what} needs the schedule's name`);
  if (what === 'delete') {
    await p.deleteSchedule(name);
    process.stdout.write(asJson ? json({ deleted: name }) : `deleted schedule ${name}\n`);
    return EXIT.ok;
  }
  const schedule = what === 'pause' ? await p.pauseSchedule(name) : await p.resumeSchedule(name);
  process.stdout.write(asJson ? json(schedule) : schedulesTable([schedule]));
  return EXIT.ok;
}
