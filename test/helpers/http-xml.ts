/**
 * UWS XML for the HTTP tests: validation against the UWS 1.1 XSD with xmllint (Debian
 * libxml2-utils; test/fixtures/uws/README.md), and small readers for the values the tests check.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCHEMA = fileURLToPath(new URL('../fixtures/uws/UWS-1.1.xsd', import.meta.url));

/** xmllint's verdict on a document: `ok`, or its messages. */
export function validateUws(xml: string): { ok: boolean; output: string } {
  const run = spawnSync('xmllint', ['--noout', '--schema', SCHEMA, '-'], { input: xml, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

/** Throws with xmllint's messages and the document unless it validates. */
export function assertValidUws(xml: string): string {
  const { ok, output } = validateUws(xml);
  if (!ok) throw new Error(`UWS XML does not validate:\n${output}\n${xml}`);
  return xml;
}

const unescape = (s: string) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#13;/g, '\r').replace(/&amp;/g, '&');

/** Text of the first `uws:{name}` element; null when it is absent or `xsi:nil`. */
export function uwsText(xml: string, name: string): string | null {
  const match = new RegExp(`<uws:${name}(\\s[^>]*)?(/>|>([^<]*)</uws:${name}>)`).exec(xml);
  if (!match) return null;
  if (match[2] === '/>') return /xsi:nil="true"/.test(match[1] ?? '') ? null : '';
  return unescape(match[3] ?? '');
}

/** Ids of the `uws:jobref`s of a job list, in document order. */
export function jobrefIds(xml: string): number[] {
  return [...xml.matchAll(/<uws:jobref\s[^>]*\bid="([0-9]+)"/g)].map((m) => Number(m[1]));
}

/** `uws:parameter` id → text. */
export function uwsParameters(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<uws:parameter\s([^>]*?)(?:\/>|>([^<]*)<\/uws:parameter>)/g)) {
    const id = /\bid="([^"]*)"/.exec(m[1]!)![1]!;
    out[unescape(id)] = unescape(m[2] ?? '');
  }
  return out;
}

/** `uws:result`s: id and xlink:href. */
export function uwsResultRefs(xml: string): Array<{ id: string; href: string }> {
  return [...xml.matchAll(/<uws:result\s([^>]*?)\/?>/g)].map((m) => ({
    id: unescape(/\bid="([^"]*)"/.exec(m[1]!)![1]!),
    href: unescape(/xlink:href="([^"]*)"/.exec(m[1]!)![1]!),
  }));
}
