/**
 * The OCR options: `ocr` says which pages are recognised, `ocr_languages`
 * which trained models read them. Every language listed ships beside the
 * worker bundle (tesseract's LSTM models, `best_int`, 0.7–2.9 MB each) and is
 * loaded only when a task asks for it.
 */

/** `auto`: pages without a usable text layer; `force`: every page; `off`: none. */
export const OCR_MODES = ['auto', 'force', 'off'] as const;
export type OcrMode = (typeof OCR_MODES)[number];

export const OCR_LANGUAGES = ['eng', 'chi_sim', 'chi_tra', 'jpn', 'kor', 'deu', 'fra', 'spa'] as const;
export type OcrLanguage = (typeof OCR_LANGUAGES)[number];

export const DEFAULT_OCR_LANGUAGES: readonly OcrLanguage[] = ['eng'];

/** At most this many models at once: each adds its time to every page. */
export const MAX_OCR_LANGUAGES = 3;

/**
 * `"eng+chi_sim"`, `"eng,chi_sim"` or a list: the languages in the order
 * given (the first leads), without repeats; or the reason it is refused.
 */
export const parseOcrLanguages = (value: string | readonly string[]): OcrLanguage[] | string => {
  const names = (typeof value === 'string' ? value.split(/[+,\s]+/) : value)
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  if (!names.length) return `name at least one of: ${OCR_LANGUAGES.join(', ')}`;
  const unknown = names.filter((name) => !(OCR_LANGUAGES as readonly string[]).includes(name));
  if (unknown.length) {
    return `unknown OCR language${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}; supported: ${OCR_LANGUAGES.join(', ')}`;
  }
  const languages = [...new Set(names)] as OcrLanguage[];
  if (languages.length > MAX_OCR_LANGUAGES) return `at most ${MAX_OCR_LANGUAGES} languages at once`;
  return languages;
};

/** The canonical text of a language list: what the task keeps and what the cache key sees. */
export const formatOcrLanguages = (languages: readonly OcrLanguage[]): string => languages.join('+');
