import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import type { FigureDescription, VisionModel } from '../figure-descriptions/describe.js';
import type { FigureImage } from '../documents/figures/figures.js';
import type { LocalRuntimeHooks } from './clients.js';

const FORMATS = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/webp': 'webp' } as const;

const PROMPT =
  'This picture is a figure from a document. Describe it in two or three sentences for a search index: what it shows, ' +
  'and any text, labels, axes or numbers it contains. Answer with the description only.';

/**
 * A figure described by a Bedrock model through the Converse API (an image
 * block and the instruction; the caption, where the document gives one, as
 * context). The client's code loads with the first figure: most runs
 * describe none.
 */
export class BedrockVisionModel implements VisionModel {
  private client: Promise<BedrockRuntimeClient> | undefined;

  constructor(
    readonly modelId: string,
    private readonly maxTokens = 300,
  ) {}

  async describe(image: FigureImage, context: { caption?: string | undefined }): Promise<FigureDescription> {
    const [{ ConverseCommand }, client] = await Promise.all([
      import('@aws-sdk/client-bedrock-runtime'),
      (this.client ??= import('@aws-sdk/client-bedrock-runtime').then(({ BedrockRuntimeClient }) => {
        const made = new BedrockRuntimeClient({});
        (globalThis as LocalRuntimeHooks).docprocAwsClientsCreated?.({ bedrockRuntime: made });
        return made;
      })),
    ]);
    const output = await client.send(
      new ConverseCommand({
        modelId: this.modelId,
        messages: [
          {
            role: 'user',
            content: [
              { image: { format: FORMATS[image.media_type], source: { bytes: image.bytes } } },
              { text: context.caption ? `${PROMPT}\nThe document's caption: ${context.caption}` : PROMPT },
            ],
          },
        ],
        inferenceConfig: { maxTokens: this.maxTokens, temperature: 0 },
      }),
    );
    const text = (output.output?.message?.content ?? []).map((block) => block.text ?? '').join(' ');
    return { text, inputTokens: output.usage?.inputTokens ?? 0, outputTokens: output.usage?.outputTokens ?? 0 };
  }
}
