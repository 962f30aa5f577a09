import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  boundedFigures,
  FigureCollector,
  DEFAULT_FIGURE_LIMITS,
  figureWarnings,
} from '../../lambdas/documents/figures/figures.js';
import { isCaptionLine } from '../../lambdas/documents/figures/captions.js';
import { checkFigureMode } from '../../lambdas/figure-descriptions/policy.js';
import { imageHeaderOf } from '../../lambdas/documents/ocr/image-header.js';
import { OPTION_DEFAULTS, parseOptions, type ProcessingOptions } from '../../lambdas/documents/options.js';
import { processDocument, storedFiguresOf } from '../../lambdas/documents/process-document.js';
import { grayPngOf, JPEG_64X48, lyingPngOf, pngOf } from '../support/images.js';
import { cell, relsXml, row, xlsxOf } from '../support/xlsx.js';
import { DEFAULT_LIMITS } from '../../lambdas/documents/limits.js';
import { PdfiumDocument } from '../../lambdas/documents/pdf/pdfium.js';
import { renderPageGray } from '../../lambdas/documents/pdf/render.js';
import { laidOutPdf, paragraph } from '../support/pdf.js';

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const dataUri = (bytes: Uint8Array, type = 'image/png') =>
  `data:${type};base64,${Buffer.from(bytes).toString('base64')}`;

const run = (bytes: Uint8Array, filename: string, options: Partial<ProcessingOptions> = {}) =>
  processDocument({ bytes, filename }, { ...OPTION_DEFAULTS, ...options });

describe('the figure collector', () => {
  it('keeps a picture once, with every page it stands on, and counts what it leaves out by reason', () => {
    const collector = new FigureCollector({ ...DEFAULT_FIGURE_LIMITS, maxFigures: 2 });
    const logo = pngOf(80, 40);
    const first = collector.add({ bytes: logo, page: 1 });
    const again = collector.add({ bytes: logo, page: 3 });
    expect(again).toBe(first);
    expect(first).toMatchObject({
      page: 1,
      pages: [1, 3],
      width: 80,
      height: 40,
      media_type: 'image/png',
      sha256: sha(logo),
    });
    expect(first?.id).toBe(`fig-${sha(logo).slice(0, 16)}`);
    // An icon, a bomb's header (never decoded), a GIF, and one past the count.
    expect(collector.add({ bytes: pngOf(10, 10) })).toBeUndefined();
    expect(collector.add({ bytes: lyingPngOf(100_000, 100_000) })).toBeUndefined();
    expect(collector.add({ bytes: Buffer.from('GIF89a\x10\x00\x10\x00', 'latin1') })).toBeUndefined();
    expect(collector.add({ bytes: pngOf(60, 60, [0, 0, 255]) })).toBeDefined();
    expect(collector.add({ bytes: pngOf(60, 60, [0, 255, 0]) })).toBeUndefined();
    expect(collector.leftOut).toEqual({ small: 1, unsupported: 1, tooLarge: 1, overLimit: 1 });
    expect(collector.figures()).toHaveLength(2);
    expect(collector.stored().map((image) => image.id)).toEqual(collector.figures().map((figure) => figure.id));
    const [warning] = figureWarnings(collector.leftOut, collector.limits);
    expect(warning?.code).toBe('FIGURES_LEFT_OUT');
    expect(warning?.message).toMatch(
      /1 picture smaller than 24 pixels.*1 picture in a format.*1 picture over 40 megapixels.*1 picture past 2 figures/,
    );
  });

  it('holds the figures of parts read apart to the limits of the whole', () => {
    const figure = (index: number) => ({ id: `fig-${String(index).padStart(16, '0')}`, bytes: 10 });
    const { kept, dropped } = boundedFigures(
      Array.from({ length: 7 }, (_, index) => figure(index)),
      { ...DEFAULT_FIGURE_LIMITS, maxFigures: 5, maxFigureTotalBytes: 40 },
    );
    expect(kept.map(({ id }) => id)).toEqual([figure(0).id, figure(1).id, figure(2).id, figure(3).id]);
    expect(dropped).toBe(3);
  });

  it('refuses a picture on its declared size before making its bytes', () => {
    const collector = new FigureCollector();
    let made = false;
    const figure = collector.add({
      bytes: () => {
        made = true;
        return pngOf(30, 30);
      },
      width: 50_000,
      height: 50_000,
    });
    expect(figure).toBeUndefined();
    expect(made).toBe(false);
    expect(collector.leftOut.tooLarge).toBe(1);
  });

  it('tells figure captions from other lines', () => {
    for (const line of [
      'Figure 3: Revenue',
      'Fig. 2.1 — Layout',
      'Chart 4 - Costs',
      'Abbildung 5: Aufbau',
      '图 2 系统结构',
    ]) {
      expect(isCaptionLine(line), line).toBe(true);
    }
    for (const line of ['Table 2: Results', 'Figures show growth', 'The figure below', 'Figure']) {
      expect(isCaptionLine(line), line).toBe(false);
    }
  });
});

describe('option figures', () => {
  it('is off unless asked for; describe is refused where no figure model is configured', () => {
    expect(parseOptions({}).figures).toBeUndefined();
    expect(parseOptions({ figures: 'off' }).figures).toBeUndefined();
    expect(parseOptions({ figures: 'refs' }).figures).toBe('refs');
    expect(parseOptions({ figures: 'ocr' }).figures).toBe('ocr');
    expect(parseOptions({ figures: 'describe' }).figures).toBe('describe');
    expect(() => parseOptions({ figures: 'all' })).toThrow(/figures/);
    expect(() => checkFigureMode({ figures: 'describe' }, undefined)).toThrow(
      /describe needs a vision model.*figureModelId/,
    );
    expect(() => checkFigureMode({ figures: 'describe' }, 'anthropic.claude-3-haiku-20240307-v1:0')).not.toThrow();
    expect(() => checkFigureMode({ figures: 'refs' }, undefined)).not.toThrow();
  });
});

const HTML_PAGE = (
  chart: Uint8Array,
  photo: Uint8Array,
  icon: Uint8Array,
) => `<!doctype html><html><head><title>Q3</title></head><body>
<h1>Quarterly report</h1>
<p>Sales grew in every region.</p>
<figure><img src="${dataUri(chart)}" alt="bars"><figcaption>Figure 1: Sales by region</figcaption></figure>
<p>The team at the fair <img src="${dataUri(photo)}" alt="Our stand at the fair"> in May.</p>
<p><img src="${dataUri(icon)}" alt="tick"></p>
<p><img src="https://example.com/remote-map.png" alt="Map of the regions" width="300" height="200"></p>
<p>Closing words: the next quarter starts with new stands in three more cities, and the team expects sales to grow again in every one of them.</p>
</body></html>`;

describe('HTML figures', () => {
  const chart = pngOf(200, 120);
  const photo = pngOf(90, 60, [20, 120, 20]);
  const html = Buffer.from(HTML_PAGE(chart, photo, pngOf(12, 12)));

  it('leaves the result as it was with figures off', async () => {
    const off = await run(html, 'q3.html', { output_format: 'markdown' });
    expect(off.figures).toBeUndefined();
    expect(off.stats.figures).toBeUndefined();
    expect(off.documents[0]?.page_content).not.toContain('figure:');
    expect(off.documents[0]?.metadata.figures).toBeUndefined();
  });

  it('places each picture the page holds where it stands, captioned, its bytes as stored; a remote one is listed, not fetched', async () => {
    const result = await run(html, 'q3.html', { output_format: 'markdown', figures: 'refs' });
    const [chartFigure, photoFigure, remote] = result.figures ?? [];
    expect(result.figures).toHaveLength(3);
    expect(chartFigure).toMatchObject({
      caption: 'Figure 1: Sales by region',
      caption_source: 'figcaption',
      width: 200,
      height: 120,
    });
    expect(photoFigure).toMatchObject({ caption: 'Our stand at the fair', caption_source: 'alt_text' });
    expect(remote).toMatchObject({
      url: 'https://example.com/remote-map.png',
      caption: 'Map of the regions',
      width: 300,
      height: 200,
    });
    expect(remote?.sha256).toBeUndefined();
    const stored = storedFiguresOf(result);
    expect(stored.map((image) => image.id)).toEqual([chartFigure?.id, photoFigure?.id]);
    expect(Buffer.from(stored[0]?.bytes ?? []).equals(chart)).toBe(true);
    const text = result.documents[0]?.page_content ?? '';
    expect(text).toContain(`![Figure 1: Sales by region](figure:${chartFigure?.id})`);
    expect(text.indexOf('Sales grew')).toBeLessThan(text.indexOf(`figure:${chartFigure?.id}`));
    expect(text).toContain(`The team at the fair ![Our stand at the fair](figure:${photoFigure?.id}) in May.`);
    expect(result.documents[0]?.metadata.figures).toEqual([chartFigure?.id, photoFigure?.id, remote?.id]);
    expect(result.stats.figures).toBe(3);
    expect(result.warnings).toEqual([
      expect.objectContaining({ code: 'FIGURES_LEFT_OUT', message: expect.stringMatching(/1 picture smaller/) }),
    ]);
  });

  it('lists a picture whose src only a browser would run as script nowhere', async () => {
    const page = Buffer.from(
      '<p>Text.</p><img src="java&#9;script:alert(1)" alt="x"><img src=" JAVASCRIPT:alert(2)" alt="y">',
    );
    const result = await run(page, 'script.html', { figures: 'refs' });
    expect(result.figures).toEqual([]);
  });

  it('text chunks list a figure whose caption the text does not hold on every chunk of its document', async () => {
    const inline = Buffer.from(
      `<p>${'Words before the picture. '.repeat(10)}<img src="${dataUri(photo)}" alt="The stand"> ${'Words after it. '.repeat(10)}</p>`,
    );
    const result = await run(inline, 'inline.html', {
      figures: 'refs',
      split: true,
      chunk_size: 100,
      chunk_overlap: 0,
    });
    const [figure] = result.figures ?? [];
    expect(result.documents.length).toBeGreaterThan(2);
    for (const chunk of result.documents) expect(chunk.metadata.figures).toEqual([figure?.id]);
  });

  it('keeps in text output the caption an attribute gives (a figcaption is text already)', async () => {
    const off = await run(html, 'q3.html');
    const on = await run(html, 'q3.html', { figures: 'refs' });
    const added = (on.documents[0]?.page_content ?? '')
      .split('\n')
      .filter((line) => !(off.documents[0]?.page_content ?? '').split('\n').includes(line));
    // The photo stands inside a sentence: its caption is in result.figures only.
    expect(added).toEqual(['Map of the regions']);
    expect(on.documents[0]?.page_content).not.toContain('figure:');
  });

  it('chunks list the figures they refer to, and only those', async () => {
    const result = await run(html, 'q3.html', {
      output_format: 'markdown',
      figures: 'refs',
      split: true,
      chunk_size: 120,
      chunk_overlap: 0,
    });
    expect(result.documents.length).toBeGreaterThan(2);
    for (const chunk of result.documents) {
      const referred = [...chunk.page_content.matchAll(/\(figure:(fig-[0-9a-f]{16})\)/g)].map((match) => match[1]);
      expect(chunk.metadata.figures ?? []).toEqual(referred);
    }
    expect(result.documents.filter((chunk) => chunk.metadata.figures).length).toBeGreaterThan(0);
    expect(result.documents.filter((chunk) => !chunk.metadata.figures).length).toBeGreaterThan(0);
  });
});

describe('PDF figures', () => {
  const pixels = Buffer.alloc(40 * 30 * 3, 0x80);
  const pdf = laidOutPdf([
    {
      texts: [
        ...paragraph(['Results of the survey are shown below.'], 720),
        { text: 'Figure 1: Answers by region', x: 100, y: 485 },
        ...paragraph(['The logo and a tiny mark follow.'], 300),
      ],
      images: [
        { x: 100, y: 500, width: 200, height: 150, image: { jpeg: JPEG_64X48, pixels: [64, 48] } },
        { x: 400, y: 700, width: 60, height: 45, image: { rgb: pixels, pixels: [40, 30] } },
        { x: 72, y: 100, width: 8, height: 8, image: { rgb: Buffer.alloc(8 * 8 * 3), pixels: [8, 8] } },
      ],
    },
    {
      texts: paragraph(['Page two has the logo again.'], 720),
      images: [{ x: 400, y: 700, width: 60, height: 45, image: { rgb: pixels, pixels: [40, 30] } }],
    },
  ]);

  it('finds each image object with its page, box as shown, caption and bytes: a JPEG as the PDF stores it', async () => {
    const result = await run(pdf, 'survey.pdf', { figures: 'refs' });
    const [logo, chart] = result.figures ?? [];
    expect(result.figures).toHaveLength(2);
    expect(chart).toMatchObject({
      page: 1,
      width: 64,
      height: 48,
      media_type: 'image/jpeg',
      caption: 'Figure 1: Answers by region',
      caption_source: 'label',
    });
    // Points from the page's top left: the picture's bottom at 500 is 792 − 500 = 292 down.
    expect(chart?.bbox?.x0).toBeCloseTo(100, 0);
    expect(chart?.bbox?.y0).toBeCloseTo(142, 0);
    expect(chart?.bbox?.x1).toBeCloseTo(300, 0);
    expect(chart?.bbox?.y1).toBeCloseTo(292, 0);
    const stored = new Map(storedFiguresOf(result).map((image) => [image.id, image]));
    expect(Buffer.from(stored.get(chart?.id ?? '')?.bytes ?? []).equals(JPEG_64X48)).toBe(true);
    // The other image is decoded and stored as a PNG, once for both pages.
    expect(logo).toMatchObject({ page: 1, pages: [1, 2], media_type: 'image/png', width: 40, height: 30 });
    expect(imageHeaderOf(stored.get(logo?.id ?? '')?.bytes ?? new Uint8Array())).toEqual({
      format: 'png',
      width: 40,
      height: 30,
    });
    expect(result.warnings.map((warning) => warning.code)).toContain('FIGURES_LEFT_OUT');
    // Text output is the text layer as always; each page lists its figures.
    expect(result.documents.map((document) => document.metadata.figures)).toEqual([[logo?.id, chart?.id], [logo?.id]]);
  });

  it('counts a PDF image too large to decode in the engine, and reads the document', async () => {
    // 5000 × 4000 pixels of one grey: 20 M pixels, past the 16 M a PDF image is decoded with; deflate keeps it small.
    const large = laidOutPdf([
      {
        texts: paragraph(['A page with a very large picture.'], 720),
        images: [
          {
            x: 72,
            y: 300,
            width: 400,
            height: 320,
            image: { rgb: Buffer.alloc(5000 * 4000 * 3, 0x77), pixels: [5000, 4000] },
          },
        ],
      },
    ]);
    const result = await run(large, 'large.pdf', { figures: 'refs' });
    expect(result.figures).toEqual([]);
    expect(result.documents[0]?.page_content).toContain('A page with a very large picture.');
    expect(result.warnings.find((warning) => warning.code === 'FIGURES_LEFT_OUT')?.message).toContain(
      '1 picture over 40 megapixels',
    );
  });

  it('never draws a picture refused for its size as part of a group: only pictures kept are grouped', async () => {
    // A picture that declares 50,000 × 50,000 pixels (and holds a few bytes) touching an ordinary one.
    const tiny = Buffer.alloc(16);
    const touching = laidOutPdf([
      {
        texts: paragraph(['A bomb beside a chart.'], 720),
        images: [
          { x: 100, y: 400, width: 100, height: 80, image: { rgb: tiny, pixels: [50_000, 50_000] } },
          { x: 200, y: 400, width: 100, height: 80, image: { rgb: Buffer.alloc(50 * 40 * 3, 0x44), pixels: [50, 40] } },
        ],
      },
    ]);
    const result = await run(touching, 'bomb.pdf', { figures: 'refs' });
    expect(result.figures).toHaveLength(1);
    expect(result.figures?.[0]).toMatchObject({ width: 50, height: 40 });
    expect(result.warnings.find((warning) => warning.code === 'FIGURES_LEFT_OUT')?.message).toContain(
      '1 picture over 40 megapixels',
    );
  });

  it('reads a picture inside a form XObject where the form puts it', async () => {
    const inForm = laidOutPdf([
      {
        texts: paragraph(['A page whose picture is wrapped in a form.'], 720),
        images: [
          { x: 150, y: 300, width: 120, height: 90, image: { jpeg: JPEG_64X48, pixels: [64, 48] }, inForm: true },
        ],
      },
    ]);
    const result = await run(inForm, 'form.pdf', { figures: 'refs' });
    expect(result.figures).toHaveLength(1);
    expect(result.figures?.[0]?.sha256).toBe(sha(JPEG_64X48));
    const { x0 = 0, y0 = 0, x1 = 0, y1 = 0 } = result.figures?.[0]?.bbox ?? {};
    expect([x0, y0, x1, y1].map(Math.round)).toEqual([150, 792 - 390, 270, 792 - 300]);
  });

  it('makes one figure of pictures that touch, drawn from their region of the page', async () => {
    const half = (rgb: [number, number, number]) => Buffer.alloc(50 * 40 * 3, Buffer.from(rgb));
    const tiled = laidOutPdf([
      {
        texts: [...paragraph(['A diagram in two tiles.'], 720), { text: 'Figure 2: Two tiles', x: 100, y: 380 }],
        images: [
          { x: 100, y: 400, width: 100, height: 80, image: { rgb: half([255, 0, 0]), pixels: [50, 40] } },
          { x: 200, y: 400, width: 100, height: 80, image: { rgb: half([0, 0, 255]), pixels: [50, 40] } },
        ],
      },
    ]);
    const result = await run(tiled, 'tiles.pdf', { figures: 'refs' });
    expect(result.figures).toHaveLength(1);
    const [figure] = result.figures ?? [];
    // 200 × 80 points at 144 dpi.
    expect(figure).toMatchObject({ media_type: 'image/png', width: 400, height: 160, caption: 'Figure 2: Two tiles' });
    const { x0 = 0, y0 = 0, x1 = 0, y1 = 0 } = figure?.bbox ?? {};
    expect([x0, y0, x1, y1].map(Math.round)).toEqual([100, 792 - 480, 300, 792 - 400]);
  });

  it('a picture on three pages or more (a logo) is listed once with its pages, and placed only where it first stands', async () => {
    const logo = {
      x: 500,
      y: 740,
      width: 60,
      height: 30,
      image: { rgb: Buffer.alloc(60 * 30 * 3, 0x55), pixels: [60, 30] as [number, number] },
    };
    const letterhead = laidOutPdf(
      [1, 2, 3].map((page) => ({ texts: paragraph([`Page ${page} of the letter.`], 700), images: [logo] })),
    );
    const result = await run(letterhead, 'letter.pdf', { figures: 'refs', output_format: 'markdown' });
    expect(result.figures).toHaveLength(1);
    const [figure] = result.figures ?? [];
    expect(figure).toMatchObject({ page: 1, pages: [1, 2, 3] });
    expect(result.documents.map((document) => document.page_content.includes(`figure:${figure?.id}`))).toEqual([
      true,
      false,
      false,
    ]);
  });

  it('places a figure in Markdown before its caption, and leaves the text output as it was', async () => {
    const markdown = await run(pdf, 'survey.pdf', { figures: 'refs', output_format: 'markdown' });
    const chart = markdown.figures?.find((figure) => figure.media_type === 'image/jpeg');
    const page = markdown.documents[0]?.page_content ?? '';
    expect(page).toContain(`![Figure 1: Answers by region](figure:${chart?.id})\n\nFigure 1: Answers by region`);
    const off = await run(pdf, 'survey.pdf');
    const on = await run(pdf, 'survey.pdf', { figures: 'refs' });
    expect(on.documents.map((document) => document.page_content)).toEqual(
      off.documents.map((document) => document.page_content),
    );
  });
});

describe('figures of office files, books and mail', () => {
  let folder: string;
  const chart = pngOf(120, 80, [30, 60, 200], 7);
  const made: Record<string, Buffer> = {};

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'docproc-figures-'));
    writeFileSync(join(folder, 'chart.png'), chart);
    writeFileSync(
      join(folder, 'report.md'),
      '# Sales report\n\nThe quarter went well.\n\n![Figure 1: Sales by month](chart.png)\n\nMore text after the figure.\n',
    );
    for (const format of ['docx', 'odt', 'epub', 'pptx']) {
      execFileSync('pandoc', ['report.md', '-o', `report.${format}`, '--metadata', 'title=Report'], { cwd: folder });
      made[format] = readFileSync(join(folder, `report.${format}`));
    }
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it.each(['docx', 'odt', 'epub'])(
    '%s (made by pandoc): the picture byte for byte, captioned, placed in Markdown',
    async (format) => {
      const result = await run(made[format] as Buffer, `report.${format}`, {
        figures: 'refs',
        output_format: 'markdown',
      });
      expect(result.figures).toHaveLength(1);
      const [figure] = result.figures ?? [];
      expect(figure).toMatchObject({
        width: 120,
        height: 80,
        media_type: 'image/png',
        sha256: sha(chart),
        caption: 'Figure 1: Sales by month',
      });
      const text = result.documents.map((document) => document.page_content).join('\n\n');
      expect(text).toContain(`![Figure 1: Sales by month](figure:${figure?.id})`);
      expect(text.indexOf('The quarter went well.')).toBeLessThan(text.indexOf(`figure:${figure?.id}`));
      expect(text.indexOf(`figure:${figure?.id}`)).toBeLessThan(text.indexOf('More text after the figure.'));
      expect(Buffer.from(storedFiguresOf(result)[0]?.bytes ?? []).equals(chart)).toBe(true);
    },
  );

  it('pptx: a slide picture with its slide, its box on the slide in points and its alt text', async () => {
    const result = await run(made.pptx as Buffer, 'report.pptx', { figures: 'refs', output_format: 'markdown' });
    const [figure] = result.figures ?? [];
    expect(result.figures).toHaveLength(1);
    expect(figure).toMatchObject({ sha256: sha(chart), caption_source: 'alt_text' });
    expect(typeof figure?.page).toBe('number');
    const { x0 = 0, y0 = 0, x1 = 0, y1 = 0 } = figure?.bbox ?? {};
    expect(x1 - x0).toBeGreaterThan(0);
    expect(y1 - y0).toBeGreaterThan(0);
    const slide = result.documents.find((document) => document.metadata.slide === figure?.page);
    expect(slide?.page_content).toContain(`(figure:${figure?.id})`);
    // Without figures the picture is counted as not read, as before.
    const off = await run(made.pptx as Buffer, 'report.pptx');
    expect(off.figures).toBeUndefined();
    expect(off.warnings.map((warning) => warning.code)).toContain('CONTENT_NOT_READ');
  });

  it("xlsx: a sheet picture with its sheet and alt text, after the sheet's table in Markdown", async () => {
    const drawing = `<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><xdr:oneCellAnchor><xdr:from><xdr:col>3</xdr:col><xdr:row>1</xdr:row></xdr:from><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="Picture 1" descr="Sales trend chart"/></xdr:nvPicPr><xdr:blipFill><a:blip r:embed="rIdImage"/></xdr:blipFill></xdr:pic></xdr:oneCellAnchor></xdr:wsDr>`;
    const bytes = await xlsxOf({
      sheets: [
        { name: 'Intro', rows: row(1, cell('A1', 'nothing here', { t: 'str' })) },
        { name: 'Sales', rows: row(1, cell('A1', 'month', { t: 'str' }), cell('B1', 'total', { t: 'str' })) },
      ],
      parts: {
        'xl/worksheets/_rels/sheet2.xml.rels': relsXml([['rId1', 'drawing', '../drawings/drawing1.xml']]),
        'xl/drawings/drawing1.xml': drawing,
        'xl/drawings/_rels/drawing1.xml.rels': relsXml([['rIdImage', 'image', '../media/image1.png']]),
        'xl/media/image1.png': chart,
      },
    });
    const result = await run(bytes, 'sales.xlsx', { figures: 'refs', output_format: 'markdown' });
    const [figure] = result.figures ?? [];
    expect(result.figures).toHaveLength(1);
    expect(figure).toMatchObject({ page: 2, section: 'Sales', caption: 'Sales trend chart', sha256: sha(chart) });
    const sales = result.documents.find((document) => document.metadata.sheet === 'Sales');
    expect(sales?.page_content).toMatch(
      new RegExp(`\\| month \\| total \\|[\\s\\S]*!\\[Sales trend chart\\]\\(figure:${figure?.id}\\)$`),
    );
    expect(sales?.metadata.figures).toEqual([figure?.id]);
    expect(result.documents.find((document) => document.metadata.sheet === 'Intro')?.metadata.figures).toBeUndefined();
    const off = await run(bytes, 'sales.xlsx');
    expect(off.warnings.map((warning) => warning.code)).toContain('CONTENT_NOT_READ');
  });

  it('eml: an inline picture by its Content-ID, and an attached one named by its attachment', async () => {
    const CRLF = '\r\n';
    const photo = pngOf(64, 64, [200, 200, 20]);
    const b64 = (bytes: Buffer) => bytes.toString('base64').replace(/.{76}/g, `$&${CRLF}`);
    const mail = [
      'From: a@example.com',
      'To: b@example.com',
      'Subject: The chart',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="outer"',
      '',
      '--outer',
      'Content-Type: multipart/related; boundary="inner"',
      '',
      '--inner',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>Here is the chart:</p><p><img src="cid:chart@mail" alt="Monthly sales chart"></p><p>Regards</p>',
      '--inner',
      'Content-Type: image/png',
      'Content-ID: <chart@mail>',
      'Content-Transfer-Encoding: base64',
      '',
      b64(chart),
      '--inner--',
      '--outer',
      'Content-Type: image/png; name="photo.png"',
      'Content-Disposition: attachment; filename="photo.png"',
      'Content-Transfer-Encoding: base64',
      '',
      b64(photo),
      '--outer--',
      '',
    ].join(CRLF);
    const result = await run(Buffer.from(mail), 'chart.eml', { figures: 'refs', output_format: 'markdown' });
    const [inline, attached] = result.figures ?? [];
    expect(result.figures).toHaveLength(2);
    expect(inline).toMatchObject({ sha256: sha(chart), caption: 'Monthly sales chart', caption_source: 'alt_text' });
    expect(attached).toMatchObject({ sha256: sha(photo), section: 'photo.png' });
    expect(result.documents[0]?.page_content).toContain(`![Monthly sales chart](figure:${inline?.id})`);
    expect(result.documents[0]?.metadata.figures).toEqual([inline?.id, attached?.id]);
  });

  it('ocr: the text inside a figure, recognised in the document’s OCR languages', async () => {
    // A picture with words on it: a one-line PDF page drawn by PDFium, as grey pixels.
    const page = laidOutPdf([{ texts: [{ text: 'TOTAL SALES 2026', x: 40, y: 720, size: 36 }] }]);
    const document = await PdfiumDocument.open(page, DEFAULT_LIMITS.maxPdfMemoryBytes);
    const gray = renderPageGray(document, 0, 100, DEFAULT_LIMITS.maxOcrPixels);
    document.close();
    // First a picture whose header is good and whose body is not: the engine aborts on it, and must read the next.
    const damaged = Buffer.concat([lyingPngOf(200, 200).subarray(0, 33), Buffer.from('not a PNG body at all')]);
    const html = Buffer.from(
      `<p>Intro</p><p><img src="${dataUri(damaged)}" alt="Damaged"></p><p><img src="${dataUri(grayPngOf(gray.width, gray.height, gray.pixels))}" alt="A chart"></p>`,
    );
    const result = await run(html, 'chart.html', { figures: 'ocr' });
    const [broken, chart] = result.figures ?? [];
    expect(broken?.text).toBeUndefined();
    expect(chart?.text).toMatch(/TOTAL SALES 2026/);
    expect(result.warnings.map((warning) => warning.message)).toContain(
      '1 figures could not be decoded for recognition (figures=ocr): they have no text.',
    );
    const refs = await run(html, 'chart.html', { figures: 'refs' });
    expect(refs.figures?.[1]?.text).toBeUndefined();
  }, 60_000);
});
