import { BedrockAgentClient } from '@aws-sdk/client-bedrock-agent';
import type { LocalRuntimeHooks } from './clients.js';

let client: BedrockAgentClient | undefined;

/**
 * The Bedrock Agent client (knowledge-base syncs), built on first use and
 * only by the functions that sync knowledge bases: a module of its own, so
 * that no other bundle carries it. The embedded stack sees it as it sees the
 * other clients (clients.ts), to check its calls against the function's policy.
 */
export const bedrockAgentClient = (): BedrockAgentClient => {
  if (!client) {
    client = new BedrockAgentClient({});
    (globalThis as LocalRuntimeHooks).docprocAwsClientsCreated?.({ bedrockAgent: client });
  }
  return client;
};
