// What tracing costs a decision: the decision service (the shipped example policies, no audit
// log) in-process, and /v1/decide over HTTP, with tracing off (no tracer: the default), on with
// spans made and dropped (the SDK's cost alone), and on exporting every span over OTLP/HTTP to
// a local collector that discards them. `--quick` for shorter runs. docs/perf.md keeps the numbers.

import { createServer } from 'node:http';
import autocannon from 'autocannon';
import { pino } from 'pino';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Engine } from '../core/engine.js';
import type { ActionRequest } from '../core/types.js';
import { DecisionService } from '../decision/service.js';
import { Metrics } from '../decision/metrics.js';
import { buildApp } from '../pep/http/app.js';
import { loadPolicyDir } from '../policy/load.js';
import { startTelemetry, type Telemetry } from '../telemetry/otel.js';
import { EXAMPLE_POLICIES } from '../testing/fixtures.js';
import { percentiles } from './stats.js';

const quick = process.argv.includes('--quick');
const CALLS = quick ? 5_000 : 30_000;

const REQUEST: ActionRequest = {
  agent: 'analyst-bot',
  action: 'readFile',
  resource: { type: 'FilePath', id: '/workspace/analyst-1/report.csv' },
};

/** Spans made, batched and handed over, then dropped: what the SDK costs without a network. */
const dropAll: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};

async function collector(): Promise<{ url: string; close(): void }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`,
    close: () => void server.close(),
  };
}

type Mode = 'off' | 'on, spans dropped' | 'on, OTLP export';

async function service(telemetry: Telemetry | undefined): Promise<DecisionService> {
  const loaded = await loadPolicyDir(EXAMPLE_POLICIES);
  if (!loaded.ok) throw new Error('example policies do not compile');
  const tracer = telemetry?.tracer;
  const engine = new Engine({
    policies: { current: () => loaded.set },
    ...(tracer ? { tracer } : {}),
  });
  const d = new DecisionService(engine, new Metrics(), pino({ level: 'silent' }));
  d.tracer = tracer;
  return d;
}

async function inProcess(d: DecisionService): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 2000; i++) await d.decide(REQUEST); // warm-up
  const us: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = process.hrtime.bigint();
    await d.decide(REQUEST);
    us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return percentiles(us);
}

async function overHttp(d: DecisionService) {
  const logger = pino({ level: 'silent' });
  const app = buildApp({ decisions: d, metrics: new Metrics(), logger });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/v1/decide`;
  try {
    const r = await autocannon({
      url,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(REQUEST),
      connections: 16,
      duration: quick ? 3 : 10,
    });
    return { rps: r.requests.average, p99: r.latency.p99, errors: r.errors + r.non2xx };
  } finally {
    await app.close();
  }
}

async function main() {
  const sink = await collector();
  const rows: string[] = [];
  const modes: [Mode, () => Telemetry | undefined][] = [
    ['off', () => undefined],
    ['on, spans dropped', () => startTelemetry({ serviceName: 'bench', sampleRatio: 1 }, dropAll)],
    [
      'on, OTLP export',
      () => startTelemetry({ endpoint: sink.url, serviceName: 'bench', sampleRatio: 1 }),
    ],
  ];
  let base: { p50: number; rps: number } | undefined;
  for (const [mode, make] of modes) {
    const telemetry = make();
    const d = await service(telemetry);
    const local = await inProcess(d);
    const http = await overHttp(d);
    await telemetry?.shutdown();
    base ??= { p50: local.p50, rps: http.rps };
    rows.push(
      `| ${mode} | ${local.p50.toFixed(1)} | ${local.p99.toFixed(1)} | +${(local.p50 - base.p50).toFixed(1)} | ${Math.round(http.rps)} | ${http.p99} | ${(http.rps / base.rps).toFixed(2)}× | ${http.errors} |`,
    );
  }
  sink.close();
  console.log(
    [
      '',
      `### Tracing cost per decision (${CALLS} in-process decisions; /v1/decide under autocannon, 16 connections, same process)`,
      '',
      '| tracing | decide p50 µs | decide p99 µs | added p50 µs | /v1/decide req/s | HTTP p99 ms | req/s vs off | errors |',
      '|---|---|---|---|---|---|---|---|',
      ...rows,
    ].join('\n'),
  );
}

await main();
