// Builds one JavaScript component with componentize-js's JavaScript API (rather than a
// CLI, so the options are plain values). Called by examples/build-components.sh:
//   node componentize.mjs <source.js> <wit-dir> <world> <out.wasm> [feature-to-disable...]
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { componentize } from '@bytecodealliance/componentize-js';

const [sourcePath, witPath, worldName, out, ...disableFeatures] = process.argv.slice(2);
if (!out) {
  console.error('usage: node componentize.mjs <source.js> <wit-dir> <world> <out.wasm> [disabled-feature...]');
  process.exit(2);
}
const { component } = await componentize({
  sourcePath: resolve(sourcePath),
  witPath: resolve(witPath),
  worldName,
  disableFeatures,
});
await writeFile(out, component);
