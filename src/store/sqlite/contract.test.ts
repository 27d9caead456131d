// The store contract on the embedded backend, in a fresh data directory.

import { tempDir } from '../../testing/fixtures.js';
import { storeContract } from '../contract.js';
import { openEmbeddedStores } from './index.js';

storeContract('embedded (SQLite)', async () => openEmbeddedStores(await tempDir('cordon-store-')));
