/**
 * Otsu's threshold over 8-bit grey pixels, applied in place: each pixel
 * black or white by the threshold that best separates the page's two
 * classes of grey. The top rung of the reading ladder reads a page so
 * (speckle and background shades that pass it do not reach the recogniser).
 */
export const binarise = (pixels: Uint8Array): Uint8Array => {
  const histogram = new Float64Array(256);
  for (const value of pixels) histogram[value]!++;
  const total = pixels.length;
  let sum = 0;
  for (let level = 0; level < 256; level++) sum += level * histogram[level]!;
  let backgroundSum = 0;
  let background = 0;
  let best = 0;
  let threshold = 127;
  for (let level = 0; level < 256; level++) {
    background += histogram[level]!;
    if (!background) continue;
    const foreground = total - background;
    if (!foreground) break;
    backgroundSum += level * histogram[level]!;
    const meanBackground = backgroundSum / background;
    const meanForeground = (sum - backgroundSum) / foreground;
    const between = background * foreground * (meanBackground - meanForeground) ** 2;
    if (between > best) {
      best = between;
      threshold = level;
    }
  }
  for (let index = 0; index < pixels.length; index++) pixels[index] = pixels[index]! > threshold ? 255 : 0;
  return pixels;
};
