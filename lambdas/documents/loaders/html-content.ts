import type { Element } from 'domhandler';

/**
 * What of an HTML page is document content, shared by the text and the
 * Markdown readings so that both drop the same boilerplate.
 */

/** Elements whose content is never document text. */
export const DROPPED = new Set([
  'head',
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'canvas',
  'iframe',
  'object',
  'embed',
  'video',
  'audio',
  'map',
  'button',
  'select',
  'input',
  'textarea',
  'nav',
]);

/** Site chrome when it frames the page, but content inside an article or section. */
export const CHROME = new Set(['header', 'footer', 'aside']);
export const CONTENT_CONTAINERS = new Set(['article', 'main', 'section']);

export const isHidden = (element: Element): boolean =>
  element.attribs.hidden !== undefined || element.attribs['aria-hidden'] === 'true';

/** Whether an element and everything in it is left out; `inContent`: inside an article, main or section. */
export const isBoilerplate = (element: Element, inContent: boolean): boolean => {
  const name = element.name.toLowerCase();
  return DROPPED.has(name) || isHidden(element) || (CHROME.has(name) && !inContent);
};
