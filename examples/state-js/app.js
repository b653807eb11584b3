// state-js: the Dapr state walkthrough from a JavaScript WebAssembly component.
//
// Saves a key and reads it back, writes with a current and a stale ETag, saves two more
// keys and reads four back in one bulk request, deletes, and reads the deleted key as
// missing. The module exports `wasi:cli/run`; componentize-js runs the event loop until
// the promise `run()` returns settles, and a rejection becomes the `err` exit (code 1).

import { Client, DaprError, environment } from './dapr-client.js';

const NAME = 'state-js';

/** A stored value's JSON text, or `(not found)`. */
function show(text) {
  return text === undefined || text === null ? '(not found)' : text;
}

async function walkthrough() {
  const store = environment().STATE_STORE || 'statestore';
  const client = new Client();
  await client.waitForSidecar(10000);

  // 1. Save and read back. The store keeps the JSON text, quotes included.
  await client.saveState(store, [{ key: 'weapon', value: 'Death Star' }]);
  const entry = await client.getState(store, 'weapon');
  if (!entry) throw new Error('weapon was saved but is missing');
  console.log(`get weapon: ${show(entry.value)}`);

  // 2. Optimistic concurrency: a first-write with the current ETag succeeds and makes
  //    that ETag stale, so a second write with it is refused (409).
  if (!entry.etag) throw new Error('the store returned no ETag');
  const options = { concurrency: 'first-write' };
  const item = { key: 'weapon', value: 'Death Star II', etag: entry.etag, options };
  await client.saveState(store, [item]);
  console.log('save with current etag: ok');
  try {
    await client.saveState(store, [{ ...item, value: 'Starkiller Base' }]);
    throw new Error('a write with a stale ETag succeeded');
  } catch (error) {
    if (!(error instanceof DaprError && error.isEtagMismatch())) throw error;
    console.log('save with stale etag: etag mismatch');
  }

  // 3. Bulk: two more keys in one save, four read back in one request (one never existed).
  await client.saveState(store, [
    { key: 'planets', value: { name: 'Tatooine', test: 123 } },
    { key: 'droid', value: 'R2-D2' },
  ]);
  for (const item of await client.getBulkState(store, ['weapon', 'planets', 'droid', 'missing'])) {
    // `data` is the stored JSON, already parsed: print it as JSON text again.
    const text = item.data === undefined ? null : JSON.stringify(item.data);
    console.log(`bulk ${item.key}: ${show(text)}`);
  }

  // 4. Delete, then the key reads as missing (204).
  for (const key of ['weapon', 'planets', 'droid']) await client.deleteState(store, key);
  const after = await client.getState(store, 'weapon');
  console.log(`after delete: weapon ${show(after && after.value)}`);
  console.log(`${NAME}: done`);
}

// The `wasi:cli/run` export.
export const run = {
  async run() {
    try {
      await walkthrough();
    } catch (error) {
      console.error(`${NAME} failed: ${error.message}`);
      throw error;
    }
  },
};
