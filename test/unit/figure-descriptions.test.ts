import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { BedrockVisionModel } from '../../lambdas/adapters/bedrock-vision.js';
import { serializeResult } from '../../lambdas/documents/document.js';
import { OPTION_DEFAULTS } from '../../lambdas/documents/options.js';
import { processDocument, storedFiguresOf } from '../../lambdas/documents/process-document.js';
import { describeFigures, type VisionModel } from '../../lambdas/figure-descriptions/describe.js';
import { pngOf } from '../support/images.js';

/**
 * figures=describe: descriptions by a vision model, tried with a model of
 * our own and with the Bedrock Runtime SDK mocked. Not exercised against
 * AWS: no account here.
 */
const dataUri = (bytes: Uint8Array) => `data:image/png;base64,${Buffer.from(bytes).toString('base64')}`;
const pictures = [pngOf(80, 60, [200, 0, 0]), pngOf(80, 60, [0, 200, 0]), pngOf(80, 60, [0, 0, 200])];
const page = `<p>Three charts.</p>${pictures.map((bytes, index) => `<figure><img src="${dataUri(bytes)}"><figcaption>Figure ${index + 1}: Colour ${index + 1}</figcaption></figure>`).join('')}`;

const serialized = async () => {
  const result = await processDocument(
    { bytes: Buffer.from(page), filename: 'charts.html' },
    { ...OPTION_DEFAULTS, figures: 'describe' },
  );
  return { ...serializeResult(result, 10_000_000), figures: storedFiguresOf(result) };
};

const parsed = (json: Uint8Array) => JSON.parse(new TextDecoder().decode(json));

describe('figure descriptions', () => {
  it('describes each figure with its caption as context, and records what the calls used', async () => {
    const asked: Array<{ bytes: number; caption?: string | undefined }> = [];
    const model: VisionModel = {
      modelId: 'test-model',
      describe: async (image, context) => {
        asked.push({ bytes: image.bytes.length, caption: context.caption });
        return { text: `  A chart in ${context.caption}\n`, inputTokens: 100, outputTokens: 20 };
      },
    };
    const described = await describeFigures(model, await serialized(), { maxFigures: 20 });
    const result = parsed(described.json);
    expect(result.figures.map((figure: { description: string }) => figure.description)).toEqual([
      'A chart in Figure 1: Colour 1',
      'A chart in Figure 2: Colour 2',
      'A chart in Figure 3: Colour 3',
    ]);
    expect(asked.map((call) => call.caption)).toEqual([
      'Figure 1: Colour 1',
      'Figure 2: Colour 2',
      'Figure 3: Colour 3',
    ]);
    const stats = { model: 'test-model', described: 3, input_tokens: 300, output_tokens: 60 };
    expect(result.stats.figure_descriptions).toEqual(stats);
    expect(described.headline.stats).toMatchObject({ figure_descriptions: stats });
    expect(described.figures).toHaveLength(3);
  });

  it('keeps to the per-task bound and counts what fails, never failing the task', async () => {
    let calls = 0;
    const model: VisionModel = {
      modelId: 'test-model',
      describe: async () => {
        calls++;
        if (calls === 2) throw new Error('ThrottlingException');
        return { text: 'A chart.', inputTokens: 10, outputTokens: 5 };
      },
    };
    const described = await describeFigures(model, await serialized(), { maxFigures: 2, concurrency: 1 });
    const result = parsed(described.json);
    expect(calls).toBe(2);
    expect(result.figures.filter((figure: { description?: string }) => figure.description)).toHaveLength(1);
    expect(result.warnings.map((warning: { message: string }) => warning.message)).toEqual([
      '1 figures past the first 2 were not described (figureDescriptionsPerTask).',
      '1 figures could not be described: the model refused or failed (they keep their caption and bytes).',
    ]);
    expect(described.headline.warnings.map((warning) => warning.code)).toEqual([
      'FIGURES_NOT_DESCRIBED',
      'FIGURES_NOT_DESCRIBED',
    ]);
  });

  it('starts no call past the deadline: the figures left keep no description, and a warning says so', async () => {
    let calls = 0;
    let clock = 1_000;
    const model: VisionModel = {
      modelId: 'test-model',
      describe: async () => {
        calls++;
        clock += 10_000;
        return { text: 'A chart.', inputTokens: 1, outputTokens: 1 };
      },
    };
    const described = await describeFigures(model, await serialized(), {
      maxFigures: 20,
      concurrency: 1,
      deadline: 5_000,
      now: () => clock,
    });
    expect(calls).toBe(1);
    expect(parsed(described.json).warnings.map((warning: { message: string }) => warning.message)).toEqual([
      "2 figures were not described: the task's time ran out first.",
    ]);
  });

  it('says so when the deployment no longer configures a model', async () => {
    const described = await describeFigures(undefined, await serialized(), { maxFigures: 20 });
    expect(parsed(described.json).warnings[0].message).toMatch(/3 figures were not described.*figureModelId/);
  });
});

describe('the Bedrock vision model (SDK mocked; not exercised against AWS)', () => {
  it('sends the picture and the instruction through Converse, and reads the text and the usage', async () => {
    const bedrock = mockClient(BedrockRuntimeClient);
    bedrock.on(ConverseCommand).resolves({
      output: { message: { role: 'assistant', content: [{ text: 'A bar chart of sales by month.' }] } },
      usage: { inputTokens: 812, outputTokens: 14, totalTokens: 826 },
      stopReason: 'end_turn',
      metrics: { latencyMs: 1 },
    });
    const model = new BedrockVisionModel('us.anthropic.claude-3-haiku-20240307-v1:0');
    const bytes = pngOf(64, 64);
    const described = await model.describe(
      { id: 'fig-0', media_type: 'image/png', bytes },
      { caption: 'Figure 1: Sales' },
    );
    expect(described).toEqual({ text: 'A bar chart of sales by month.', inputTokens: 812, outputTokens: 14 });
    const [call] = bedrock.commandCalls(ConverseCommand);
    const input = call?.args[0].input;
    expect(input?.modelId).toBe('us.anthropic.claude-3-haiku-20240307-v1:0');
    const content = input?.messages?.[0]?.content ?? [];
    expect(content[0]?.image?.format).toBe('png');
    expect(Buffer.from(content[0]?.image?.source?.bytes ?? []).equals(bytes)).toBe(true);
    expect(content[1]?.text).toContain("The document's caption: Figure 1: Sales");
    bedrock.restore();
  });
});
