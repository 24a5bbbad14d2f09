/**
 * Comparing and showing stored values: equality as JSON stores them, the fields on which two
 * records differ, and a one-line rendering of any value for error messages.
 */

/**
 * Equal as JSON: key order aside, a key holding undefined counts as absent and -0 as 0 (JSON
 * writes both so). Much cheaper than comparing serialisations.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && sameJson(ao[k], bo[k]));
}

/** The top-level keys on which two records differ, with both values (`key: a vs b; ...`), compared as JSON. */
export function diffJson(a: object, b: object): string {
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])];
  return keys
    .filter((k) => !sameJson(ao[k], bo[k]))
    .map((k) => `${k}: ${show(ao[k])} vs ${show(bo[k])}`)
    .join('; ');
}

/**
 * A value on one line, for messages: JSON where JSON can say it, and what JSON would lose spelled
 * out (`undefined`, `NaN`, `-0`, `10n`, `new Date(0)`, `[Function f]`, `Map(1)`, a class name).
 */
export function show(value: unknown): string {
  const seen = new Set<object>();
  const walk = (v: unknown): string => {
    switch (typeof v) {
      case 'undefined':
        return 'undefined';
      case 'number':
        return Object.is(v, -0) ? '-0' : String(v);
      case 'bigint':
        return `${v}n`;
      case 'string':
        return JSON.stringify(v);
      case 'boolean':
        return String(v);
      case 'symbol':
        return v.toString();
      case 'function':
        return `[Function ${v.name || 'anonymous'}]`;
    }
    if (v === null) return 'null';
    const o = v as object;
    if (seen.has(o)) return '[Circular]';
    if (o instanceof Date) return `new Date(${o.getTime()})`;
    if (o instanceof Map || o instanceof Set) return `${o.constructor.name}(${o.size})`;
    seen.add(o);
    try {
      if (Array.isArray(o)) return `[${o.map(walk).join(',')}]`;
      const proto = Object.getPrototypeOf(o) as object | null;
      const prefix = proto === Object.prototype || proto === null ? '' : `${(o as { constructor?: { name?: string } }).constructor?.name ?? 'Object'} `;
      return `${prefix}{${Object.entries(o).map(([k, x]) => `${JSON.stringify(k)}:${walk(x)}`).join(',')}}`;
    } finally {
      seen.delete(o);
    }
  };
  return walk(value);
}
