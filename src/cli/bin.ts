#!/usr/bin/env node
/** The `phaseline` executable. Last resorts here too: whatever happens, the user sees one line. */
import { errorLine, messageOf } from './errors.ts';
import { main } from './main.ts';

// `phaseline jobs | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});
process.on('uncaughtException', (error) => {
  process.stderr.write(errorLine(messageOf(error)));
  process.exit(1);
});

process.exitCode = await main(process.argv.slice(2));
