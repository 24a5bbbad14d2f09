import { defineConfig } from 'drizzle-kit';

// `npm run generate` writes SQLite migrations into migrations/; `npm run generate:postgres` (this
// file with PHASELINE_DIALECT=postgresql) writes PostgreSQL ones into migrations/postgres/.
export default process.env.PHASELINE_DIALECT === 'postgresql'
  ? defineConfig({ dialect: 'postgresql', schema: './src/db/pg-schema.ts', out: './migrations/postgres' })
  : defineConfig({ dialect: 'sqlite', schema: './src/db/schema.ts', out: './migrations' });
