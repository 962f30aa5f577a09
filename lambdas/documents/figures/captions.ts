/**
 * How a caption is told from text near a picture: a line that begins with a
 * figure label and a number ("Figure 3:", "Fig. 2.1", "Chart 4 –",
 * "Abbildung 5", "图 2"), the convention of reports, papers and manuals in
 * the languages the OCR engine reads. Tables' captions ("Table 2") are not
 * figures' captions.
 */
const CAPTION_LABEL =
  /^(?:fig(?:ure)?s?|chart|diagram|graph|illustration|image|photo(?:graph)?|picture|plate|exhibit|map|abbildung|abb|figura|gráfico|grafico|imagen|bild|рис(?:унок)?|схема)(?:\.?\s*[0-9]+(?:[.\-–][0-9]+)*[a-z]?|\.?\s+(?:[ivxlc]+|[a-z]))(?=$|[\s.:\-–—)])/iu;
const CJK_CAPTION_LABEL = /^(?:图|圖|그림|図)\s*[0-9０-９]+/u;

/** True when `line` opens with a figure label and its number. */
export const isCaptionLine = (line: string): boolean => {
  const text = line.trim();
  return CAPTION_LABEL.test(text) || CJK_CAPTION_LABEL.test(text);
};

/** Markdown for a figure where it stands: `![caption](figure:ID)`, the caption's brackets escaped. */
export const figureMarkdown = (id: string, caption: string | undefined): string =>
  `![${(caption ?? '').replace(/([[\]\\])/g, '\\$1')}](figure:${id})`;

/** The figure ids a Markdown text refers to, in order, once each. */
export const figureIdsIn = (text: string): string[] => [
  ...new Set([...text.matchAll(/\]\(figure:(fig-[0-9a-f]{16})\)/g)].map((match) => match[1] as string)),
];
