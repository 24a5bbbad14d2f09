import { create } from 'xmlbuilder2';
const UWS = 'http://www.ivoa.net/xml/UWS/v1.0', XLINK = 'http://www.w3.org/1999/xlink', XSI = 'http://www.w3.org/2001/XMLSchema-instance', XMLNS = 'http://www.w3.org/2000/xmlns/';
const doc = create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '\uFFFD' });
const root = doc.ele(UWS, 'uws:job').att(XMLNS, 'xmlns:xlink', XLINK).att(XMLNS, 'xmlns:xsi', XSI).att('version', '1.1');
root.ele(UWS, 'uws:jobId').txt('1 & <2> "q" \r\n \u0001 x \ud800');
root.ele(UWS, 'uws:ownerId').att(XSI, 'xsi:nil', 'true');
root.ele(UWS, 'uws:result').att('id', 'a"b<').att(XLINK, 'xlink:href', 'http://x/y');
root.ele(UWS, 'uws:parameters');
console.log(doc.end({ prettyPrint: true }));
try { console.log(doc.end({ prettyPrint: true, wellFormed: true })); } catch (e) { console.log('WF error', (e as Error).message); }
