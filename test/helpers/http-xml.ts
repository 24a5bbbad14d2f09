/**
 * UWS XML for the tests: validation against the UWS 1.1 XSD with xmllint-wasm (libxml2's xmllint
 * compiled to WebAssembly, so no system package is needed), XPath read-back with the same tool,
 * and small readers for the values the tests check.
 */
import { readFileSync } from 'node:fs';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';

const fixture = (name: string): XMLFileInfo => ({
  fileName: name,
  contents: readFileSync(new URL(`../fixtures/uws/${name}`, import.meta.url), 'utf8'),
});
/** The schema, and the XLink schema it imports by the relative location `xlink.xsd`. */
const SCHEMA = fixture('UWS-1.1.xsd');
const PRELOAD = [fixture('xlink.xsd')];

export interface Verdict {
  valid: boolean;
  /** xmllint's messages about this document. */
  output: string;
}

/**
 * Validates named documents in one xmllint run; each gets its own verdict. A document is valid
 * only when xmllint says `{file} validates` (a parse error prints no such line).
 */
export async function validateUwsDocuments(docs: Record<string, string>): Promise<Record<string, Verdict>> {
  const names = Object.keys(docs);
  if (names.length === 0) return {};
  const files = names.map((name, i) => ({ fileName: `doc${i}.xml`, contents: docs[name]! }));
  const result = await validateXML({ xml: files, schema: [SCHEMA], preload: PRELOAD, maxMemoryPages: 4096 });
  const lines = result.rawOutput.split('\n');
  const verdicts: Record<string, Verdict> = {};
  names.forEach((name, i) => {
    const file = files[i]!.fileName;
    const mine = lines.filter((l) => l.startsWith(`${file}:`) || l.startsWith(`${file} `));
    verdicts[name] = { valid: mine.includes(`${file} validates`), output: mine.join('\n') };
  });
  return verdicts;
}

/** xmllint's verdict on one document: `ok`, or its messages. */
export async function validateUws(xml: string): Promise<{ ok: boolean; output: string }> {
  const { doc } = await validateUwsDocuments({ doc: xml });
  return { ok: doc!.valid, output: doc!.output };
}

/** Throws with xmllint's messages and the document unless it validates. */
export async function assertValidUws(xml: string): Promise<string> {
  const { ok, output } = await validateUws(xml);
  if (!ok) throw new Error(`UWS XML does not validate:\n${output}\n${xml}`);
  return xml;
}

/** The string value of an XPath expression over a document (`xmllint --xpath`, newline removed). */
export async function xpath(xml: string, expression: string): Promise<string> {
  const result = await validateXML({
    xml: [{ fileName: 'doc.xml', contents: xml }],
    schema: [],
    modifyArguments: () => ['--xpath', expression, 'doc.xml'],
  });
  if (!result.valid) throw new Error(`xmllint --xpath ${expression}: ${result.rawOutput}`);
  return result.normalized.replace(/\n$/, '');
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

/** `uws:jobref` id → xlink:href, in document order. */
export function jobrefHrefs(xml: string): Array<{ id: number; href: string }> {
  return [...xml.matchAll(/<uws:jobref\s([^>]*)>/g)].map((m) => ({
    id: Number(/\bid="([0-9]+)"/.exec(m[1]!)![1]),
    href: unescape(/xlink:href="([^"]*)"/.exec(m[1]!)![1]!),
  }));
}

/** `uws:parameter` id → text. */
export function uwsParameters(xml: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of xml.matchAll(/<uws:parameter\s([^>]*?)(?:\/>|>([^<]*)<\/uws:parameter>)/g)) {
    const id = /\bid="([^"]*)"/.exec(m[1]!)![1]!;
    Object.defineProperty(out, unescape(id), { value: unescape(m[2] ?? ''), enumerable: true, writable: true, configurable: true });
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
