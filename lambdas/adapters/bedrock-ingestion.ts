import type { KnowledgeBaseIngestion } from '../knowledge-base/ingestion.js';

/**
 * StartIngestionJob of the Bedrock Agent API: the sync of one data source of
 * a knowledge base. The client's code is loaded at the first sync, not at a
 * worker's cold start: most runs never start one.
 */
export class BedrockIngestion implements KnowledgeBaseIngestion {
  async start(request: Parameters<KnowledgeBaseIngestion['start']>[0]): Promise<{ jobId: string; status: string }> {
    const [{ StartIngestionJobCommand }, { bedrockAgentClient }] = await Promise.all([
      import('@aws-sdk/client-bedrock-agent'),
      import('./bedrock-client.js'),
    ]);
    const { ingestionJob } = await bedrockAgentClient().send(
      new StartIngestionJobCommand({
        knowledgeBaseId: request.knowledgeBaseId,
        dataSourceId: request.dataSourceId,
        clientToken: request.clientToken,
        description: request.description,
      }),
    );
    return { jobId: ingestionJob?.ingestionJobId ?? '', status: ingestionJob?.status ?? 'UNKNOWN' };
  }
}
