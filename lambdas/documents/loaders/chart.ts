import { isTag, type Element } from 'domhandler';
import { textOf, type Block } from './office-blocks.js';
import type { LoadInput } from './types.js';
import { attribute, childrenNamed, descendants, localName, readXmlPart } from './xml.js';
import type { ZipArchive } from './zip.js';

/**
 * A DrawingML chart part (`c:chartSpace`, ECMA-376 §21.2), as XLSX, PPTX
 * and DOCX embed them: its title, its kind, and the values its series
 * cached when the file was saved, as a small table (a category column, then
 * one column per series). The cache is what the chart shows; the cell
 * ranges it came from are not followed.
 */
export interface Chart {
  title: string;
  /** `bar`, `line`, `pie`, …: the plot's element name without `Chart`, `3D` dropped. */
  kinds: string[];
  /** Header row first: an empty corner, then the series' names. */
  rows: string[][];
}

/** Cached points by index (`c:pt idx`), from a string or number cache or a literal. */
const pointsOf = (element: Element | undefined): Map<number, string> => {
  const points = new Map<number, string>();
  if (!element) return points;
  for (const point of descendants(element, 'pt')) {
    const index = Number(attribute(point, 'idx'));
    const value = childrenNamed(point, 'v')[0];
    if (Number.isInteger(index) && index >= 0 && value) points.set(index, textOf(value).trim());
  }
  return points;
};

/** A title's text: its rich text runs, or a cached reference. */
const titleOf = (title: Element | undefined): string => {
  if (!title) return '';
  const runs = descendants(title, 't').map((run) => textOf(run));
  if (runs.length) return runs.join('').replace(/\s+/g, ' ').trim();
  return [...pointsOf(title).values()].join(' ').trim();
};

const first = (element: Element, ...names: string[]): Element | undefined => {
  for (const name of names) {
    const found = childrenNamed(element, name)[0];
    if (found) return found;
  }
  return undefined;
};

export const chartOf = (root: Element | { children: Element['children'] }): Chart | undefined => {
  const chart = descendants(root as Element, 'chart')[0];
  if (!chart) return undefined;
  const plot = childrenNamed(chart, 'plotArea')[0];
  const plots = plot ? plot.children.filter(isTag) : [];
  const kinds: string[] = [];
  const series: Array<{ name: string; categories: Map<number, string>; values: Map<number, string> }> = [];
  for (const element of plots) {
    const name = localName(element);
    if (!name.endsWith('Chart')) continue;
    kinds.push(name.slice(0, -'Chart'.length).replace(/3D$/, ''));
    for (const entry of childrenNamed(element, 'ser')) {
      const tx = childrenNamed(entry, 'tx')[0];
      series.push({
        name: tx ? titleOf(tx) : '',
        categories: pointsOf(first(entry, 'cat', 'xVal')),
        values: pointsOf(first(entry, 'val', 'yVal')),
      });
    }
  }
  const title = titleOf(childrenNamed(chart, 'title')[0]);
  if (!series.length) return title ? { title, kinds, rows: [] } : undefined;
  const indexes = [...new Set(series.flatMap((entry) => [...entry.categories.keys(), ...entry.values.keys()]))].sort(
    (a, b) => a - b,
  );
  const categoryOf = (index: number): string => {
    for (const entry of series) {
      const category = entry.categories.get(index);
      if (category) return category;
    }
    return String(index + 1);
  };
  const rows = [
    ['', ...series.map((entry, at) => entry.name || `Series ${at + 1}`)],
    ...indexes.map((index) => [categoryOf(index), ...series.map((entry) => entry.values.get(index) ?? '')]),
  ];
  return { title, kinds, rows };
};

export const readChart = async (
  archive: ZipArchive,
  part: string,
  input: LoadInput,
  kind: string,
): Promise<Chart | undefined> => chartOf(await readXmlPart(archive, part, input.limits, input.checkpoint, kind));

/** "Bar chart: Sales by year" (the kinds of a combined chart joined), then its table. */
export const chartBlocks = (chart: Chart): Block[] => {
  const kind = chart.kinds.length ? `${[...new Set(chart.kinds)].join(' and ')} chart` : 'Chart';
  const label = `${kind.charAt(0).toUpperCase()}${kind.slice(1)}${chart.title ? `: ${chart.title}` : ''}`;
  return [
    { type: 'paragraph', inlines: [label] },
    ...(chart.rows.length > 1 ? [{ type: 'table' as const, rows: chart.rows }] : []),
  ];
};
