/**
 * Hot-path statements: Drizzle writes the SQL once, better-sqlite3 runs it directly.
 *
 * A Drizzle prepared query maps every parameter and every result row through generic code on each
 * call (about 3–5 µs a statement here, as much as SQLite's own work for a small row). Compiling the
 * query's `toSQL()` once into a positional binder and a column decoder keeps Drizzle as the only
 * author of the SQL and its encoders, and leaves one array allocation per call.
 */
import type Database from 'better-sqlite3';
import { is, Param, Placeholder, type Column } from 'drizzle-orm';

type Values = Record<string, unknown>;
type Binder = (values: Values) => unknown;

interface Compilable {
  toSQL(): { sql: string; params: unknown[] };
}

/** A write statement (INSERT, UPDATE, DELETE) whose placeholders are filled from `values` by name. */
export interface CompiledWrite {
  run(values: Values): Database.RunResult;
}

/** A read statement returning rows shaped like the Drizzle selection it was compiled from. */
export interface CompiledRead<Row> {
  get(values: Values): Row | undefined;
  all(values: Values): Row[];
}

export function compileWrite(sqlite: Database.Database, query: Compilable): CompiledWrite {
  const { sql, params } = query.toSQL();
  const statement = sqlite.prepare(sql);
  const bind = binder(params);
  return { run: (values) => statement.run(bind(values)) };
}

/**
 * `fields` must be the selection the query was built with (`db.select(fields)`), in the same
 * order: Drizzle lists the selected columns in that order, so row position i is field i.
 */
export function compileRead<Row>(sqlite: Database.Database, query: Compilable, fields: Record<string, Column>): CompiledRead<Row> {
  const { sql, params } = query.toSQL();
  const statement = sqlite.prepare(sql).raw(true);
  const bind = binder(params);
  const keys = Object.keys(fields);
  const columns = Object.values(fields);
  const decode = (raw: unknown[]): Row => {
    const row: Values = {};
    for (let i = 0; i < keys.length; i++) {
      const value = raw[i];
      row[keys[i]!] = value === null ? null : columns[i]!.mapFromDriverValue(value);
    }
    return row as Row;
  };
  return {
    get: (values) => {
      const raw = statement.get(bind(values)) as unknown[] | undefined;
      return raw === undefined ? undefined : decode(raw);
    },
    all: (values) => (statement.all(bind(values)) as unknown[][]).map(decode),
  };
}

function binder(params: unknown[]): (values: Values) => unknown[] {
  const binders = params.map(toBinder);
  return (values) => {
    const args = new Array<unknown>(binders.length);
    for (let i = 0; i < binders.length; i++) args[i] = binders[i]!(values);
    return args;
  };
}

function toBinder(param: unknown): Binder {
  if (is(param, Placeholder)) return read(param.name);
  if (is(param, Param)) {
    const { encoder } = param;
    if (is(param.value, Placeholder)) {
      const get = read(param.value.name);
      return encoder ? (values) => encoder.mapToDriverValue(get(values)) : get;
    }
    const constant = encoder ? encoder.mapToDriverValue(param.value) : param.value;
    return () => constant;
  }
  return () => param;
}

function read(name: string): Binder {
  return (values) => {
    const value = values[name];
    if (value === undefined) throw new Error(`No value for placeholder "${name}" was provided`);
    return value;
  };
}
