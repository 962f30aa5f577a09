import * as z from 'zod';

/**
 * Knowledge-base destinations (option `destination=kb:<name>`): where a
 * succeeded task's document lands, ready for an Amazon Bedrock Knowledge
 * Base's S3 data source. The operator names them in the deployment's
 * configuration (`kbDestinations`, or `npm start -- --kb-destination`); the
 * functions read the same definition from KB_DESTINATIONS. Plain data: the
 * runtime, the CDK stack and the embedded stack all parse it with this schema.
 */

/** S3 bucket names as S3 allows them (no dots next to each other, no IP form checked here). */
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** A key prefix: empty, or path segments each ending with `/`. */
const KEY_PREFIX = /^(?:[\w!\-.*'()]+\/)*$/;
/** Knowledge base and data source ids (the Bedrock API: ten upper-case letters or digits). */
const BEDROCK_ID = /^[0-9A-Z]{10}$/;
/** An API key id (the ApiKeyId output), `anonymous` without keys, or `*`: every caller. */
const CALLER = /^(?:[\w.-]{1,128}|\*)$/;
export const DESTINATION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * The KB's limits on a metadata sidecar (the Bedrock user guide, "Include
 * metadata in a data source"): at most 10 KB per file; values are strings,
 * numbers, booleans or lists of strings.
 */
export const KB_SIDECAR_MAX_BYTES = 10 * 1024;
export const KB_ATTRIBUTE_KEY = /^[A-Za-z_][\w.-]{0,99}$/;
export const KB_STRING_MAX = 2048;
export const KB_STRING_LIST_MAX = 10;
/** The operator's own attributes: the rest of a sidecar's 10 KB is the service's (each value at most 2 KB, see objects.ts). */
export const KB_OPERATOR_ATTRIBUTES_MAX_BYTES = 1024;

export const kbAttributeValueSchema = z.union([
  z.string().min(1).max(KB_STRING_MAX),
  z.number().finite(),
  z.boolean(),
  z.array(z.string().min(1).max(KB_STRING_MAX)).min(1).max(KB_STRING_LIST_MAX),
]);
export type KbAttributeValue = z.infer<typeof kbAttributeValueSchema>;

export const kbDestinationSchema = z
  .strictObject({
    bucket: z.string().regex(BUCKET_NAME, 'an S3 bucket name'),
    prefix: z.string().max(512).regex(KEY_PREFIX, 'a key prefix that ends with "/", or empty').default(''),
    /** Who may name it: API key ids, or `*` for every caller. */
    keys: z.array(z.string().regex(CALLER, 'an API key id, or *')).min(1),
    /** With both ids, a batch that ends starts one ingestion job of this data source. */
    knowledgeBaseId: z.string().regex(BEDROCK_ID, 'a knowledge base id (10 letters or digits)').optional(),
    dataSourceId: z.string().regex(BEDROCK_ID, 'a data source id (10 letters or digits)').optional(),
    /** Attributes every document's sidecar carries (the team, the collection…), beside the service's own. */
    attributes: z
      .record(z.string().regex(KB_ATTRIBUTE_KEY, 'an attribute name'), kbAttributeValueSchema)
      .refine((attributes) => Buffer.byteLength(JSON.stringify(attributes)) <= KB_OPERATOR_ATTRIBUTES_MAX_BYTES, {
        message: `at most ${KB_OPERATOR_ATTRIBUTES_MAX_BYTES} bytes as JSON, so that every sidecar stays within the KB's 10 KB`,
      })
      .optional(),
    /** The KMS key the bucket encrypts with by default (SSE-KMS), if any: the writers may generate data keys. */
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[\w-]+$/, 'a KMS key ARN')
      .optional(),
  })
  .refine((destination) => (destination.knowledgeBaseId === undefined) === (destination.dataSourceId === undefined), {
    message: 'knowledgeBaseId and dataSourceId go together',
  });

export type KbDestination = z.output<typeof kbDestinationSchema>;

export const kbDestinationsSchema = z
  .record(
    z.string().regex(DESTINATION_NAME, 'a destination name (lower-case letters, digits, - and _)'),
    kbDestinationSchema,
  )
  .default({});
export type KbDestinations = z.output<typeof kbDestinationsSchema>;

/** The variable's text: JSON, as the functions' environment carries it. */
export const formatKbDestinations = (destinations: KbDestinations): string =>
  Object.keys(destinations).length ? JSON.stringify(destinations) : '';

/** KB_DESTINATIONS: JSON of `kbDestinationsSchema`, or empty. */
export const kbDestinationsVariable = z
  .string()
  .default('')
  .transform((text, ctx) => {
    if (!text.trim()) return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON' });
      return z.NEVER;
    }
  })
  .pipe(kbDestinationsSchema);

/** `NAME=s3://BUCKET/PREFIX/` as `npm start -- --kb-destination` takes it (every caller may name it). */
export const parseKbDestinationFlag = (text: string): [string, KbDestination] => {
  const match = /^([^=]+)=s3:\/\/([^/]+)\/?(.*)$/.exec(text.trim());
  if (!match) throw new Error(`--kb-destination ${text}: expected NAME=s3://BUCKET/PREFIX/`);
  const [, name = '', bucket = '', rest = ''] = match;
  const prefix = rest && !rest.endsWith('/') ? `${rest}/` : rest;
  if (!DESTINATION_NAME.test(name)) throw new Error(`--kb-destination ${text}: ${name} is not a destination name`);
  const parsed = kbDestinationSchema.safeParse({ bucket, prefix, keys: ['*'] });
  if (!parsed.success) {
    throw new Error(`--kb-destination ${text}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  }
  return [name, parsed.data];
};
