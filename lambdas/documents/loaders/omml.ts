import { isTag, isText, type AnyNode, type Element } from 'domhandler';
import { localName } from './xml.js';

/**
 * Office Math (OMML, ECMA-376 part 1 §22.1), the equations of DOCX files,
 * as LaTeX: `A=\pi r^{2}`, `\frac{a}{b}`, `\sum_{i=1}^{n}{x_{i}}`. Word
 * writes an equation as a tree of structures (fractions, scripts, radicals,
 * n-ary operators, delimiters, matrices); each becomes its LaTeX form, and
 * the text runs inside them their symbols' commands. Structures it does not
 * know give their text in order. A pure function of the parsed element.
 */

const SYMBOLS: Record<string, string> = {
  α: '\\alpha',
  β: '\\beta',
  γ: '\\gamma',
  δ: '\\delta',
  ε: '\\epsilon',
  θ: '\\theta',
  λ: '\\lambda',
  μ: '\\mu',
  π: '\\pi',
  ρ: '\\rho',
  σ: '\\sigma',
  τ: '\\tau',
  φ: '\\phi',
  ω: '\\omega',
  Δ: '\\Delta',
  Σ: '\\Sigma',
  Ω: '\\Omega',
  '×': '\\times',
  '·': '\\cdot',
  '÷': '\\div',
  '±': '\\pm',
  '≤': '\\leq',
  '≥': '\\geq',
  '≠': '\\neq',
  '≈': '\\approx',
  '∞': '\\infty',
  '→': '\\to',
  '∈': '\\in',
  '∂': '\\partial',
  '∇': '\\nabla',
};

const NARY: Record<string, string> = {
  '∑': '\\sum',
  '∏': '\\prod',
  '∫': '\\int',
  '∬': '\\iint',
  '∮': '\\oint',
  '⋃': '\\bigcup',
  '⋂': '\\bigcap',
};
const ACCENTS: Record<string, string> = {
  '̂': '\\hat',
  '̄': '\\bar',
  '̇': '\\dot',
  '̃': '\\tilde',
  '⃗': '\\vec',
  '̈': '\\ddot',
};

const childElements = (element: Element): Element[] => element.children.filter(isTag);

const child = (element: Element, name: string): Element | undefined =>
  childElements(element).find((node) => localName(node) === name);

/** A property's `m:val` (`m:begChr m:val="["`), if the element has that property. */
const property = (element: Element, properties: string, name: string): string | undefined => {
  const holder = child(element, properties);
  const found = holder && child(holder, name);
  if (!found) return undefined;
  return found.attribs['m:val'] ?? found.attribs.val ?? '';
};

const runText = (run: Element): string =>
  childElements(run)
    .filter((node) => localName(node) === 't')
    .flatMap((node) => node.children.filter(isText).map((text) => text.data))
    .join('');

const symbols = (text: string): string =>
  [...text].map((char) => (SYMBOLS[char] ? `${SYMBOLS[char]} ` : char)).join('');

/** The LaTeX of an element's children, in order. */
const inner = (element: Element | undefined): string =>
  element ? element.children.map((node: AnyNode) => (isTag(node) ? latexOf(node) : '')).join('') : '';

const group = (element: Element | undefined): string => `{${inner(element).trim()}}`;

const latexOf = (element: Element): string => {
  switch (localName(element)) {
    case 'r':
      return symbols(runText(element));
    case 'sSup':
      return `${group(child(element, 'e'))}^${group(child(element, 'sup'))}`.replace(/^\{([^{}]*)\}\^/, '$1^');
    case 'sSub':
      return `${group(child(element, 'e'))}_${group(child(element, 'sub'))}`.replace(/^\{([^{}]*)\}_/, '$1_');
    case 'sSubSup':
      return `${inner(child(element, 'e'))}_${group(child(element, 'sub'))}^${group(child(element, 'sup'))}`;
    case 'sPre':
      return `{}_${group(child(element, 'sub'))}^${group(child(element, 'sup'))}${inner(child(element, 'e'))}`;
    case 'f':
      return property(element, 'fPr', 'type') === 'lin'
        ? `${inner(child(element, 'num'))}/${inner(child(element, 'den'))}`
        : `\\frac${group(child(element, 'num'))}${group(child(element, 'den'))}`;
    case 'rad': {
      const degree = inner(child(element, 'deg')).trim();
      return `\\sqrt${degree ? `[${degree}]` : ''}${group(child(element, 'e'))}`;
    }
    case 'd': {
      const open = property(element, 'dPr', 'begChr') ?? '(';
      const close = property(element, 'dPr', 'endChr') ?? ')';
      const separator = property(element, 'dPr', 'sepChr') ?? ',';
      const parts = childElements(element)
        .filter((node) => localName(node) === 'e')
        .map((node) => inner(node).trim());
      return `${open}${parts.join(separator)}${close}`;
    }
    case 'nary': {
      const operator = property(element, 'naryPr', 'chr') ?? '∫';
      const sub = inner(child(element, 'sub')).trim();
      const sup = inner(child(element, 'sup')).trim();
      return `${NARY[operator] ?? operator}${sub ? `_{${sub}}` : ''}${sup ? `^{${sup}}` : ''}${group(child(element, 'e'))}`;
    }
    case 'func':
      return `${inner(child(element, 'fName')).trim()} ${inner(child(element, 'e')).trim()}`;
    case 'acc': {
      const accent = property(element, 'accPr', 'chr') ?? '̂';
      return `${ACCENTS[accent] ?? '\\hat'}${group(child(element, 'e'))}`;
    }
    case 'bar':
      return `${property(element, 'barPr', 'pos') === 'bot' ? '\\underline' : '\\overline'}${group(child(element, 'e'))}`;
    case 'limLow':
      return `${inner(child(element, 'e'))}_${group(child(element, 'lim'))}`;
    case 'limUpp':
      return `${inner(child(element, 'e'))}^${group(child(element, 'lim'))}`;
    case 'eqArr':
      return childElements(element)
        .filter((node) => localName(node) === 'e')
        .map((node) => inner(node).trim())
        .join(' \\\\ ');
    case 'm':
      return `\\begin{matrix} ${childElements(element)
        .filter((node) => localName(node) === 'mr')
        .map((row) =>
          childElements(row)
            .filter((node) => localName(node) === 'e')
            .map((node) => inner(node).trim())
            .join(' & '),
        )
        .join(' \\\\ ')} \\end{matrix}`;
    default:
      // Properties (`…Pr`) and Word's own run properties carry no text; containers give their children's.
      return /Pr$/.test(localName(element)) || element.name.startsWith('w:') ? '' : inner(element);
  }
};

/** An `m:oMath` (or `m:oMathPara`) element as LaTeX, spaces collapsed. */
export const ommlToLatex = (math: Element): string => inner(math).replace(/\s+/g, ' ').trim();
