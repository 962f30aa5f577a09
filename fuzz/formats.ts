import JSZip from 'jszip';

/**
 * Small valid documents of the formats the corpus has no file of (PPTX,
 * XLSX, ODT, EPUB, e-mail), made here so that the fuzzer mutates them as it
 * mutates corpus files: every reader meets broken bytes of its own format.
 */
const zip = async (parts: Array<[string, string]>, stored: string[] = []): Promise<Uint8Array> => {
  const archive = new JSZip();
  for (const [name, content] of parts) {
    archive.file(name, content, stored.includes(name) ? { compression: 'STORE' } : {});
  }
  return archive.generateAsync({ type: 'uint8array', compression: 'DEFLATE' });
};

const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';

const pptx = () =>
  zip([
    [
      'ppt/presentation.xml',
      `<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:r="${REL}"><p:sldIdLst><p:sldId id="256" r:id="rId1"/></p:sldIdLst></p:presentation>`,
    ],
    [
      'ppt/_rels/presentation.xml.rels',
      `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/slide" Target="slides/slide1.xml"/></Relationships>`,
    ],
    [
      'ppt/slides/slide1.xml',
      '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><p:cSld><p:spTree><p:sp><p:nvSpPr><p:nvPr><p:ph type="title"/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>Quarterly review</a:t></a:r></a:p></p:txBody></p:sp><p:sp><p:txBody><a:p><a:r><a:t>Revenue grew.</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>',
    ],
  ]);

const xlsx = () =>
  zip([
    [
      'xl/workbook.xml',
      `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="${REL}"><sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>`,
    ],
    [
      'xl/_rels/workbook.xml.rels',
      `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`,
    ],
    [
      'xl/sharedStrings.xml',
      '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>name</t></si><si><t>total</t></si></sst>',
    ],
    [
      'xl/worksheets/sheet1.xml',
      '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>north</t></is></c><c r="B2"><f>1+1</f><v>2</v></c></row></sheetData></worksheet>',
    ],
  ]);

const odt = () =>
  zip(
    [
      ['mimetype', 'application/vnd.oasis.opendocument.text'],
      [
        'content.xml',
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:text><text:h text:outline-level="1">Minutes</text:h><text:p>The board met.</text:p><text:list><text:list-item><text:p>Budget</text:p></text:list-item></text:list></office:text></office:body></office:document-content>',
      ],
    ],
    ['mimetype'],
  );

const epub = () =>
  zip(
    [
      ['mimetype', 'application/epub+zip'],
      [
        'META-INF/container.xml',
        '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container" version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>',
      ],
      [
        'OEBPS/content.opf',
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Tales</dc:title></metadata><manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest><spine><itemref idref="c1"/></spine></package>',
      ],
      [
        'OEBPS/c1.xhtml',
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>One</title></head><body><h1>Chapter one</h1><p>It began.</p></body></html>',
      ],
    ],
    ['mimetype'],
  );

const eml = async () =>
  new TextEncoder().encode(
    [
      'From: Ada <ada@example.com>',
      'To: Bob <bob@example.com>',
      'Subject: =?UTF-8?B?UmVwb3J0IMOp?=',
      'Date: Fri, 27 Nov 2026 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="x"',
      '',
      '--x',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Caf=E9 notes.',
      '--x',
      'Content-Type: text/plain; name="a.txt"',
      'Content-Disposition: attachment; filename="a.txt"',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('Attached notes.').toString('base64'),
      '--x--',
      '',
    ].join('\r\n'),
  );

/** The generated seeds, by the name the fuzzer reports them under. */
export const generatedSeeds = async (): Promise<Map<string, Uint8Array>> =>
  new Map([
    ['generated/deck.pptx', await pptx()],
    ['generated/cells.xlsx', await xlsx()],
    ['generated/minutes.odt', await odt()],
    ['generated/tales.epub', await epub()],
    ['generated/report.eml', await eml()],
  ]);
