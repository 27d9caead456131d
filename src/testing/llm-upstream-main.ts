// The local provider as its own process (benches): prints its URL, runs until killed.
import { startFakeProvider } from '../demo/model-server.js';

const p = await startFakeProvider();
process.stdout.write(`${p.url}\n`);
