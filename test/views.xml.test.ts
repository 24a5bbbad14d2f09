/**
 * Every UWS XML document the views write validates against the UWS 1.1 schema
 * (test/fixtures/uws/UWS-1.1.xsd, a copy of the IVOA UWS 1.1 REC-20161024 schema), checked by
 * libxml2's xmllint compiled to WebAssembly (xmllint-wasm, no system package): job, job list,
 * parameters and results documents, for jobs in every phase of every lifecycle, plus random jobs.
 * Values are read back with `xmllint --xpath` to check they survive.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Job } from '../src/engine/job.ts';
import { toUwsJobListXml, toUwsJobXml, toUwsParametersXml, toUwsResultsXml } from '../src/views/index.ts';
import { validateUwsDocuments as validate, xpath } from './helpers/http-xml.ts';
import { LIFECYCLE_STATES, T0, jobArb, makeJob, seed } from './views.helpers.ts';

const EXAMPLE = new URL('./fixtures/uws/UWSJobInstance.xml', import.meta.url);
const BASE = { baseUrl: 'https://example.org/uws/jobs' };

async function expectAllValid(docs: Record<string, string>): Promise<void> {
  const verdicts = await validate(docs);
  const invalid = Object.entries(verdicts)
    .filter(([, v]) => !v.valid)
    .map(([name, v]) => `${name}:\n${v.output}\n${docs[name]}`);
  expect(invalid, invalid.join('\n\n')).toEqual([]);
  expect(Object.keys(verdicts)).toHaveLength(Object.keys(docs).length);
}

const at = (seconds: number): number => T0 + seconds * 1000;

/** Every state of every lifecycle (synapse PROCESSING both queued and running), bare and fully filled. */
function jobsInEveryPhase(): Array<[string, Job]> {
  const out: Array<[string, Job]> = [];
  let id = 100;
  for (const [lifecycle, states] of Object.entries(LIFECYCLE_STATES)) {
    for (const spec of states) {
      const label = `${lifecycle}-${spec.state}-${spec.outcome ?? (spec.running ? 'running' : spec.queued ? 'queued' : spec.waiting ? 'waiting' : 'draft')}`;
      const base = { lifecycle, stateValue: spec.state, ...spec };
      out.push([`${label}-bare`, makeJob({ ...base, id: id++, params: null })]);
      out.push([
        `${label}-full`,
        makeJob({
          ...base,
          id: id++,
          owner: 'ivo://example.org/user?alice',
          runId: 'run <1> & "2"',
          params: { ra: 10.5, dec: -3, ids: ['a', 'b'], note: 'a & b < c', bell: 'x\u0007', nested: { k: null } },
          result:
            spec.outcome === 'succeeded'
              ? { results: [{ id: 'image', href: 'https://example.org/f/image.fits?x=1&y=2', size: 10, mimeType: 'image/fits' }, { id: 'log', href: 'https://example.org/f/log' }] }
              : spec.running
                ? 42
                : null,
          errors: [{ message: 'it <broke> & stopped', name: 'IOError', stack: 'IOError\n at x', kind: 'transient', attempt: 0, at: at(5) }],
          startedAt: spec.running || spec.terminal ? at(2) : null,
          endedAt: spec.terminal ? at(9) : null,
          updatedAt: at(9),
          destructionAt: at(86400),
          quoteAt: at(60),
          executionDuration: 600,
        }),
      ]);
    }
  }
  return out;
}

describe('UWS XML against UWS-1.1.xsd', () => {
  it('the schema accepts the standard\'s own example and refuses broken documents (the check can fail)', async () => {
    const good = toUwsJobXml(makeJob(), BASE);
    const verdicts = await validate({
      example: readFileSync(EXAMPLE, 'utf8'),
      good,
      badPhase: good.replace('<uws:phase>QUEUED</uws:phase>', '<uws:phase>RUNNING</uws:phase>'),
      noResults: good.replace('<uws:results/>', ''),
      notWellFormed: good.replace('<uws:jobId>7</uws:jobId>', '<uws:jobId>&x;</uws:jobId>'),
      badNil: good.replace('<uws:startTime xsi:nil="true"/>', '<uws:startTime></uws:startTime>'),
    });
    expect(Object.fromEntries(Object.entries(verdicts).map(([k, v]) => [k, v.valid]))).toEqual({
      example: true,
      good: true,
      badPhase: false,
      noResults: false,
      notWellFormed: false,
      badNil: false,
    });
  });

  it('job, parameters and results documents validate for every phase of every lifecycle', async () => {
    const docs: Record<string, string> = {};
    for (const [label, job] of jobsInEveryPhase()) {
      docs[`${label}-job`] = toUwsJobXml(job, BASE);
      docs[`${label}-parameters`] = toUwsParametersXml(job, BASE);
      docs[`${label}-results`] = toUwsResultsXml(job, BASE);
    }
    expect(Object.keys(docs)).toHaveLength(35 * 2 * 3);
    await expectAllValid(docs);
  });

  it('the job list validates: all of them, and empty', async () => {
    const jobs = jobsInEveryPhase().map(([, job]) => job);
    await expectAllValid({ all: toUwsJobListXml(jobs, BASE), empty: toUwsJobListXml([], BASE) });
  });

  it('documents of random jobs validate (any strings, params, results, errors)', async () => {
    const SEED = seed('views.xml');
    const jobs = fc.sample(jobArb, { seed: SEED, numRuns: 150 });
    const docs: Record<string, string> = { list: toUwsJobListXml(jobs, BASE) };
    jobs.forEach((job, i) => {
      docs[`job-${i}`] = toUwsJobXml(job, BASE);
      docs[`parameters-${i}`] = toUwsParametersXml(job, BASE);
      docs[`results-${i}`] = toUwsResultsXml(job, BASE);
    });
    await expectAllValid(docs);
  });

  it('result hrefs of any shape give a valid document', async () => {
    const SEED = seed('views.xml hrefs');
    const strings = fc.sample(fc.oneof(fc.string({ unit: 'binary', maxLength: 30 }), fc.webUrl({ withFragments: true, withQueryParameters: true })), { seed: SEED, numRuns: 400 });
    const results = strings.map((href, i) => ({ id: `r${i}`, href }));
    const job = makeJob({ result: { results } });
    await expectAllValid({ results: toUwsResultsXml(job, BASE), job: toUwsJobXml(job, BASE) });
  });

  it('values come back from the XML exactly as the job holds them', async () => {
    const tricky = ['a & b', '&amp; &x; &#38;', '<tag attr="v">', "it's", 'line1\r\nline2\rline3\n', '\ttab  spaces ', 'ünï©ødé 𝄞', ']]>'];
    const params = Object.fromEntries(tricky.map((v, i) => [`p${i}`, v]));
    const job = makeJob({ params: { ...params, 'id "with" <odd>\tchars\n': 'v' }, owner: tricky[1]!, runId: tricky[4]! });
    const xml = toUwsJobXml(job, BASE);
    await expectAllValid({ xml });
    for (const [i, value] of tricky.entries()) {
      expect(await xpath(xml, `string((//*[local-name()="parameter"])[${i + 1}])`)).toBe(value);
      expect(await xpath(xml, `string((//*[local-name()="parameter"])[${i + 1}]/@byReference)`)).toBe('false');
    }
    expect(await xpath(xml, `string((//*[local-name()="parameter"])[${tricky.length + 1}]/@id)`)).toBe('id "with" <odd>\tchars\n');
    expect(await xpath(xml, 'string(//*[local-name()="ownerId"])')).toBe(tricky[1]);
    expect(await xpath(xml, 'string(//*[local-name()="runId"])')).toBe(tricky[4]);
  });

  it('a value XML cannot carry goes by reference; other illegal characters become U+FFFD', async () => {
    const job = makeJob({ params: { ok: 'fine', ctl: 'a\u0000b', lone: 'x\uD800y' }, owner: 'bad\u0001owner' });
    const xml = toUwsJobXml(job, BASE);
    await expectAllValid({ xml, parameters: toUwsParametersXml(job, BASE) });
    const param = (i: number, what: string): Promise<string> => xpath(xml, `string((//*[local-name()="parameter"])[${i}]${what})`);
    expect(await Promise.all([param(1, ''), param(1, '/@byReference')])).toEqual(['fine', 'false']);
    expect(await Promise.all([param(2, ''), param(2, '/@byReference')])).toEqual(['https://example.org/uws/jobs/7/parameters/ctl', 'true']);
    expect(await Promise.all([param(3, ''), param(3, '/@byReference')])).toEqual(['https://example.org/uws/jobs/7/parameters/lone', 'true']);
    expect(await xpath(xml, 'string(//*[local-name()="ownerId"])')).toBe('bad\uFFFDowner');
  });
});
