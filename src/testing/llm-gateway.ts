// A `cordon serve` with the LLM gateway in front of the fake provider, for tests: an OpenAI-API
// upstream `local` and an Anthropic one `claude`, and one gateway key for ledger-bot/alice.

import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { startServer, type RunningServer } from '../runtime/start.js';
import type { FakeProvider } from '../demo/model-server.js';

export const GATEWAY_KEY = 'gw-key-ledger-bot-for-alice';
export const UPSTREAM_KEY = 'sk-upstream-secret-never-for-agents';

export async function startLlmGateway(
  provider: FakeProvider,
  policies: string,
  dataDir: string,
  timeoutSeconds = 30,
): Promise<RunningServer> {
  process.env.CORDON_TEST_UPSTREAM_KEY = UPSTREAM_KEY;
  return startServer(
    configSchema.parse({
      policies,
      data: dataDir,
      port: 0,
      watch: false,
      log: { level: 'silent' },
      llm: {
        upstreams: [
          {
            name: 'local',
            api: 'openai',
            baseUrl: `${provider.url}/v1`,
            apiKeyEnv: 'CORDON_TEST_UPSTREAM_KEY',
            timeoutSeconds,
          },
          {
            name: 'claude',
            api: 'anthropic',
            baseUrl: provider.url,
            apiKeyEnv: 'CORDON_TEST_UPSTREAM_KEY',
            timeoutSeconds,
          },
        ],
        keys: { [GATEWAY_KEY]: { agent: 'ledger-bot', user: 'alice' } },
      },
    }),
    pino({ level: 'silent' }),
  );
}
