import type { LoadInput } from './types.js';
import { attribute, descendants, readXmlPart } from './xml.js';
import type { ZipArchive } from './zip.js';

/**
 * Open Packaging Conventions (ECMA-376 part 2), shared by the XLSX and PPTX
 * readers: how one part names another (relationships) and where the target
 * lies in the package.
 */

export interface Relationship {
  /** The part, resolved from the package root; an external target (a hyperlink) as written. */
  target: string;
  /** The relationship type's URI. */
  type: string;
  external: boolean;
}

/** `xl/workbook.xml` + `worksheets/sheet1.xml` → `xl/worksheets/sheet1.xml`; a leading `/` is the package root. */
export const resolvePart = (from: string, target: string): string => {
  const segments = target.startsWith('/') ? [] : from.split('/').slice(0, -1);
  for (const segment of target.split('/')) {
    if (segment === '..') segments.pop();
    else if (segment && segment !== '.') segments.push(segment);
  }
  return segments.join('/');
};

const relsPathOf = (part: string): string => {
  const slash = part.lastIndexOf('/');
  return `${part.slice(0, slash + 1)}_rels/${part.slice(slash + 1)}.rels`;
};

/** The type's last segment (`worksheet`, `chart`, `comments`): the same in transitional and strict OOXML. */
export const kindOf = (relationship: Relationship): string => relationship.type.split('/').pop() ?? '';

/** A part's relationships by id (none when it has no `.rels` part). */
export const relationshipsOf = async (
  archive: ZipArchive,
  part: string,
  input: LoadInput,
  kind: string,
): Promise<Map<string, Relationship>> => {
  const relationships = new Map<string, Relationship>();
  const relsPath = relsPathOf(part);
  if (!archive.has(relsPath)) return relationships;
  const root = await readXmlPart(archive, relsPath, input.limits, input.checkpoint, kind);
  for (const relationship of descendants(root, 'Relationship')) {
    const id = attribute(relationship, 'Id');
    const target = attribute(relationship, 'Target');
    if (!id || target === undefined) continue;
    const external = attribute(relationship, 'TargetMode') === 'External';
    relationships.set(id, {
      target: external ? target : resolvePart(part, target),
      type: attribute(relationship, 'Type') ?? '',
      external,
    });
  }
  return relationships;
};

/** The internal targets of one kind that the package holds, each once, in the order the part lists them. */
export const targetsOf = (relationships: ReadonlyMap<string, Relationship>, kind: string, archive: ZipArchive) => [
  ...new Set(
    [...relationships.values()]
      .filter((relationship) => !relationship.external && kindOf(relationship) === kind)
      .map((relationship) => relationship.target)
      .filter((target) => archive.has(target)),
  ),
];
