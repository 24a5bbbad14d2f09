/**
 * Hot-path statements: Drizzle writes the SQL once, better-sqlite3 runs it directly.
 *
 * A Drizzle prepared query maps every parameter and every result row through generic code on each
 * call (about 3–5 µs a statement here, as much as SQLite's own work for a small row). Compiling the
 * query's `toSQL()` once into a positional binder and a column decoder keeps Drizzle as the only
 * author of the SQL and its encoders, and leaves one array allocation per call.
 */
import type Database from 'better-sqlite3';
import { Column as DrizzleColumn, is, Param, Placeholder, type Column } from 'drizzle-orm';

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
 * An INSERT of many rows, from `queryOf(n)`, the statement of n rows (Drizzle's `values([...])`
 * with the same placeholders in every row). Rows go in statements of `maxRows` (the most that
 * SQLite's 32,766 variables allow), the rest in statements of descending powers of two: a few
 * compiled statements serve every batch size, each compiled on first use and kept. The SQL of n
 * rows is Drizzle's one-row statement with its VALUES tuple repeated (checked once against
 * Drizzle's own two-row statement: building thousands of rows through Drizzle takes a third of a
 * second), and every row is bound by the one-row binder. `each` hears every statement's result
 * with the index of its first row and its row count, in the rows' order.
 */
export function compileInsertMany(
  sqlite: Database.Database,
  queryOf: (rows: number) => Compilable,
): (rows: readonly Values[], each?: (result: Database.RunResult, from: number, count: number) => void) => void {
  const one = queryOf(1).toSQL();
  const at = one.sql.lastIndexOf(' values (');
  if (at < 0 || !one.sql.endsWith(')')) throw new Error(`not a one-row insert: ${one.sql}`);
  const head = one.sql.slice(0, at + ' values '.length);
  const tuple = one.sql.slice(head.length);
  const sqlOf = (rows: number) => head + Array.from({ length: rows }, () => tuple).join(', ');
  const two = queryOf(2).toSQL();
  if (two.sql !== sqlOf(2) || two.params.length !== 2 * one.params.length) throw new Error(`unexpected insert of two rows: ${two.sql}`);
  const fill = filler(one.params);
  const perRow = one.params.length;
  const maxRows = Math.floor(32_766 / perRow);
  const bySize = new Map<number, Database.Statement>();
  return (rows, each) => {
    for (let from = 0; from < rows.length; ) {
      const left = rows.length - from;
      const size = left >= maxRows ? maxRows : 2 ** Math.floor(Math.log2(left));
      let statement = bySize.get(size);
      if (!statement) bySize.set(size, (statement = sqlite.prepare(sqlOf(size))));
      const args = new Array<unknown>(size * perRow);
      for (let r = 0; r < size; r++) fill(rows[from + r]!, args, r * perRow);
      const result = statement.run(args);
      each?.(result, from, size);
      from += size;
    }
  };
}

/**
 * `fields` must be the selection the query was built with (`db.select(fields)`), in the same
 * order: Drizzle lists the selected columns in that order, so row position i is field i.
 */
export function compileRead<Row>(sqlite: Database.Database, query: Compilable, fields: Record<string, Column>): CompiledRead<Row> {
  const { sql, params } = query.toSQL();
  const statement = sqlite.prepare(sql).raw(true);
  const bind = binder(params);
  const decode = decoderOf<Row>(fields);
  return {
    get: (values) => {
      const raw = statement.get(bind(values)) as unknown[] | undefined;
      return raw === undefined ? undefined : decode(raw);
    },
    all: (values) => (statement.all(bind(values)) as unknown[][]).map(decode),
  };
}

/**
 * The row decoder of a selection: one object literal with the selection's keys in order (one
 * hidden class, no per-key growth), each value as the column's `mapFromDriverValue` makes it,
 * null kept null, as Drizzle's own mapping does. A column that keeps Drizzle's base mapping (the
 * identity: plain integers, reals and texts) is copied without the call. The keys are the
 * schema's own names (JSON-quoted into the source), so the generated function holds no input.
 */
function decoderOf<Row>(fields: Record<string, Column>): (raw: unknown[]) => Row {
  const keys = Object.keys(fields);
  const columns = Object.values(fields);
  const identity = DrizzleColumn.prototype.mapFromDriverValue;
  const parts = keys.map((key, i) => {
    const value = columns[i]!.mapFromDriverValue === identity ? `r[${i}]` : `(r[${i}] === null ? null : c[${i}].mapFromDriverValue(r[${i}]))`;
    return `${JSON.stringify(key)}: ${value}`;
  });
  return new Function('c', `return function decode(r) { return { ${parts.join(', ')} }; };`)(columns) as (raw: unknown[]) => Row;
}

function binder(params: unknown[]): (values: Values) => unknown[] {
  const fill = filler(params);
  return (values) => fill(values, new Array<unknown>(params.length), 0);
}

/** Write the statement's arguments for `values` into `args` from `offset` on. */
function filler(params: unknown[]): (values: Values, args: unknown[], offset: number) => unknown[] {
  const binders = params.map(toBinder);
  return (values, args, offset) => {
    for (let i = 0; i < binders.length; i++) args[offset + i] = binders[i]!(values);
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
