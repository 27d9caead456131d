// Tracing end to end: `cordon serve` configured with telemetry.otlp exports to a collector in
// this test (an HTTP server taking OTLP/JSON), and the span trees of a /v1/decide, an LLM chat
// completion through the LLM gateway and an MCP tools/call through the gateway are checked,
// with the caller's W3C traceparent continued and handed on upstream. Off by default: without
// configuration the OpenTelemetry SDK is never loaded.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { configSchema } from '../config/config.js';
import { startServer, type RunningServer } from '../runtime/start.js';
import { EXAMPLE_POLICIES, tempDir } from '../testing/fixtures.js';
import { startFakeProvider, type FakeProvider } from '../demo/model-server.js';
import { inProcessGateway, mcpDecisions } from '../testing/mcp.js';
import { telemetrySettings } from './config.js';
import { startTelemetry } from './otel.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status?: { code?: number };
}

/** An OTLP/HTTP collector (JSON encoding) that keeps every span it is sent. */
async function startCollector() {
  const spans: Span[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      assert.equal(req.url, '/v1/traces');
      const doc = JSON.parse(body) as {
        resourceSpans: {
          resource: { attributes: { key: string; value: Record<string, unknown> }[] };
          scopeSpans: { spans: (Omit<Span, 'attributes'> & { attributes: unknown[] })[] }[];
        }[];
      };
      for (const rs of doc.resourceSpans)
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) {
            const attributes: Span['attributes'] = {};
            for (const a of s.attributes as { key: string; value: Record<string, unknown> }[]) {
              const v = a.value;
              attributes[a.key] = (v.stringValue ??
                (v.intValue !== undefined ? Number(v.intValue) : v.boolValue)) as string;
            }
            const service = rs.resource.attributes.find((a) => a.key === 'service.name');
            attributes['service.name'] = service?.value.stringValue as string;
            spans.push({ ...s, attributes });
          }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return { url, spans, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${CALLER_SPAN}-01`;

const children = (spans: Span[], parent: Span) =>
  spans.filter((s) => s.parentSpanId === parent.spanId);
const named = (spans: Span[], name: string) => {
  const s = spans.find((x) => x.name === name);
  assert.ok(s, `a span "${name}" among ${spans.map((x) => x.name).join(', ')}`);
  return s;
};

/** The steps every decision made through `cordon serve` shows under its cordon.decide span. */
const DECISION_STEPS = [
  'cordon.stage.identity',
  'cordon.stage.content',
  'cordon.stage.isolation',
  'cordon.stage.approval',
  'cordon.stage.session',
  'cordon.stage.usage',
  'cordon.stage.baseline',
  'cordon.stage.risk',
  'cordon.cedar.evaluate',
  'cordon.approval',
  'cordon.session.append',
  'cordon.audit.append',
];

describe('tracing through cordon serve, exported over OTLP', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  let provider: FakeProvider;
  let server: RunningServer;
  let decided: { decisionId: string; decision: string };
  let chat: Response;

  before(async () => {
    collector = await startCollector();
    provider = await startFakeProvider();
    process.env.CORDON_TEST_UPSTREAM_KEY = 'sk-upstream';
    server = await startServer(
      configSchema.parse({
        policies: EXAMPLE_POLICIES,
        data: await tempDir('cordon-otel-'),
        port: 0,
        watch: false,
        log: { level: 'silent' },
        telemetry: { otlp: { endpoint: collector.url }, serviceName: 'cordon-test' },
        llm: {
          upstreams: [
            {
              name: 'local',
              api: 'openai',
              baseUrl: `${provider.url}/v1`,
              apiKeyEnv: 'CORDON_TEST_UPSTREAM_KEY',
            },
          ],
          keys: { 'gw-key-ledger-bot-otel': { agent: 'ledger-bot', user: 'alice' } },
        },
      }),
      pino({ level: 'silent' }),
    );
    const res = await fetch(`${server.url}/v1/decide`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: TRACEPARENT },
      body: JSON.stringify({
        agent: 'analyst-bot',
        action: 'readFile',
        resource: { type: 'FilePath', id: '/workspace/analyst-1/report.csv' },
      }),
    });
    decided = (await res.json()) as typeof decided;
    chat = await fetch(`${server.url}/llm/openai/v1/chat/completions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: 'Bearer gw-key-ledger-bot-otel',
      },
      body: JSON.stringify({
        model: 'local/gpt-4.1-mini',
        messages: [
          {
            role: 'user',
            content:
              '[tool:erp__read_ledger:{"account":"4711"}] [tool:postgres__drop_table:{"table":"payroll"}]',
          },
        ],
      }),
    });
    await chat.json();
    // Closing shuts the exporter down, which sends what is batched.
    await server.close();
  });
  after(async () => {
    await provider.close();
    await collector.close();
  });

  it('continues the caller’s trace into a server span, a decision span and one per step', () => {
    assert.equal(decided.decision, 'allow');
    const root = named(collector.spans, 'POST /v1/decide');
    assert.equal(root.traceId, TRACE_ID);
    assert.equal(root.parentSpanId, CALLER_SPAN, 'the caller’s span is the parent');
    assert.equal(root.kind, 2, 'SPAN_KIND_SERVER');
    assert.equal(root.attributes['http.response.status_code'], 200);
    assert.equal(root.attributes['service.name'], 'cordon-test');
    const [decision, ...rest] = children(collector.spans, root);
    assert.equal(rest.length, 0);
    assert.equal(decision!.name, 'cordon.decide');
    assert.deepEqual(
      {
        id: decision!.attributes['cordon.decision.id'],
        outcome: decision!.attributes['cordon.decision.outcome'],
        action: decision!.attributes['cordon.action'],
        agent: decision!.attributes['cordon.agent'],
        pep: decision!.attributes['cordon.pep'],
      },
      {
        id: decided.decisionId,
        outcome: 'allow',
        action: 'readFile',
        agent: 'analyst-bot',
        pep: 'http',
      },
    );
    assert.deepEqual(
      children(collector.spans, decision!).map((s) => s.name),
      DECISION_STEPS,
    );
    const cedar = named(children(collector.spans, decision!), 'cordon.cedar.evaluate');
    assert.equal(cedar.attributes['cordon.decision.outcome'], 'allow');
  });

  it('names an LLM call as the GenAI conventions do, with the tool-call decisions under it', () => {
    assert.equal(chat.status, 200);
    const span = named(collector.spans, 'chat local/gpt-4.1-mini');
    assert.equal(span.parentSpanId, undefined, 'no traceparent came: a new trace');
    assert.equal(span.attributes['gen_ai.operation.name'], 'chat');
    assert.equal(span.attributes['gen_ai.provider.name'], 'openai');
    assert.equal(span.attributes['gen_ai.request.model'], 'local/gpt-4.1-mini');
    assert.equal(span.attributes['http.route'], '/llm/openai/v1/chat/completions');
    const decisions = children(collector.spans, span).filter((s) => s.name === 'cordon.decide');
    assert.deepEqual(
      decisions.map((d) => [
        d.attributes['cordon.action'],
        d.attributes['gen_ai.tool.name'],
        d.attributes['cordon.decision.outcome'],
      ]),
      [
        ['callModel', undefined, 'allow'],
        ['invokeTool', 'erp/read_ledger', 'allow'],
        ['invokeTool', 'postgres/drop_table', 'deny'],
      ],
    );
    // The tool-call decisions name the model call's decision as their parent decision.
    assert.equal(
      decisions[1]!.attributes['cordon.decision.parent'],
      decisions[0]!.attributes['cordon.decision.id'],
    );
    // The provider was called inside this span, and told so.
    const seen = provider.seen.at(-1)!;
    assert.equal(seen.headers.traceparent, `00-${span.traceId}-${span.spanId}-01`);
  });
});

describe('tracing an MCP tools/call through the gateway', () => {
  it('spans the call as execute_tool under the agent’s traceparent and hands it upstream', async () => {
    const collector = await startCollector();
    const telemetry = startTelemetry({
      endpoint: collector.url,
      serviceName: 'gw',
      sampleRatio: 1,
    });
    const decisions = await mcpDecisions(
      'permit (principal == Agent::"coding-agent", action == Action::"invokeTool", resource);',
    );
    decisions.tracer = telemetry.tracer;
    const fixture = fileURLToPath(new URL('../testing/mcp-fixture-server.js', import.meta.url));
    const { client, close } = await inProcessGateway({
      upstreams: [
        {
          name: 'fixture',
          command: process.execPath,
          args: [fixture],
          env: { FIXTURE_META_TOOL: '1' },
        },
      ],
      decisions,
      identity: { agent: 'coding-agent' },
    });
    let upstreamMeta: Record<string, string>;
    try {
      const r = (await client.callTool({
        name: 'request_meta',
        arguments: {},
        _meta: { traceparent: TRACEPARENT },
      })) as { content: { text: string }[] };
      upstreamMeta = JSON.parse(r.content[0]!.text) as Record<string, string>;
    } finally {
      await close();
      await telemetry.shutdown();
      await collector.close();
    }
    const call = named(collector.spans, 'tools/call request_meta');
    assert.equal(call.traceId, TRACE_ID);
    assert.equal(call.parentSpanId, CALLER_SPAN);
    assert.deepEqual(
      [
        call.attributes['gen_ai.operation.name'],
        call.attributes['gen_ai.tool.name'],
        call.attributes['mcp.method.name'],
      ],
      ['execute_tool', 'request_meta', 'tools/call'],
    );
    assert.ok(call.attributes['jsonrpc.request.id'] !== undefined);
    const [decision] = children(collector.spans, call);
    assert.equal(decision!.name, 'cordon.decide');
    assert.equal(decision!.attributes['gen_ai.tool.name'], 'fixture/request_meta');
    assert.equal(decision!.attributes['cordon.decision.outcome'], 'allow');
    assert.equal(decision!.attributes['cordon.pep'], 'mcp');
    // The upstream server got this call's span as its parent, not the agent's.
    assert.equal(upstreamMeta.traceparent, `00-${TRACE_ID}-${call.spanId}-01`);
  });
});

describe('tracing is off by default', () => {
  it('is off without configuration, and on with OTEL_EXPORTER_OTLP_ENDPOINT unless disabled', () => {
    const config = configSchema.parse({}).telemetry;
    assert.equal(telemetrySettings(config, {}), undefined);
    assert.deepEqual(telemetrySettings(config, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }), {
      serviceName: 'cordon',
      sampleRatio: 1,
    });
    assert.equal(
      telemetrySettings(config, {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_SDK_DISABLED: 'true',
      }),
      undefined,
    );
    assert.equal(
      telemetrySettings(
        { ...config, otlp: { endpoint: 'http://c:4318' } },
        { OTEL_TRACES_EXPORTER: 'none' },
      ),
      undefined,
    );
  });

  it('does not load the OpenTelemetry SDK for a decision when tracing is off', async () => {
    const loaded = async (env: Record<string, string>) => {
      const dir = await tempDir('cordon-otel-off-');
      const log = join(dir, 'resolved.txt');
      await writeFile(
        join(dir, 'hooks.mjs'),
        `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}`,
      );
      await writeFile(
        join(dir, 'register.mjs'),
        `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);`,
      );
      const start = new URL('../runtime/start.js', import.meta.url).href;
      const cfg = new URL('../config/config.js', import.meta.url).href;
      await writeFile(
        join(dir, 'main.mjs'),
        `const { startServer } = await import(${JSON.stringify(start)});
const { configSchema } = await import(${JSON.stringify(cfg)});
const s = await startServer(configSchema.parse({ policies: ${JSON.stringify(EXAMPLE_POLICIES)},
  data: ${JSON.stringify(join(dir, 'data'))}, port: 0, watch: false, log: { level: 'silent' } }));
const r = await fetch(s.url + '/v1/decide', { method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ agent: 'analyst-bot', action: 'readFile', resource: { type: 'FilePath', id: '/workspace/analyst-1/a' } }) });
if ((await r.json()).decision !== 'allow') process.exit(3);
await s.close();`,
      );
      const {
        OTEL_EXPORTER_OTLP_ENDPOINT: _e,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: _t,
        ...rest
      } = process.env;
      await promisify(execFile)(process.execPath, ['--import', './register.mjs', 'main.mjs'], {
        cwd: dir,
        env: { ...rest, ...env },
      });
      const { readFile } = await import('node:fs/promises');
      return (await readFile(log, 'utf8')).split('\n').filter((u) => u.includes('@opentelemetry'));
    };
    assert.deepEqual(await loaded({}), [], 'no OpenTelemetry module was resolved');
    // The check sees the SDK when it is loaded (an endpoint nobody listens on: export fails quietly).
    const on = await loaded({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    assert.ok(on.some((u) => u.includes('@opentelemetry/sdk-trace-base')));
  });
});
