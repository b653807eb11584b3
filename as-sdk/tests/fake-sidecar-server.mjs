// Serves the fake sidecar of fake-sidecar.mjs over HTTP on 127.0.0.1:PORT, for running
// AS guests through the real host (`wasi-dapr run`) without `wasi-dapr sidecar`.
// On SIGTERM/SIGINT it prints the recorded state as JSON ({"store/key": data}) and exits.
//
// usage: node tests/fake-sidecar-server.mjs PORT

import http from "node:http";
import { fakeSidecar } from "./fake-sidecar.mjs";

const port = Number(process.argv[2] ?? 3500);
const fake = fakeSidecar({ host: null });
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const headers = Object.entries(req.headers).map(([n, v]) => `${n}:${v}\n`).join("");
    const ans = fake.handler({
      method: req.method,
      url: `http://127.0.0.1:${port}${req.url}`,
      headers,
      body: new Uint8Array(Buffer.concat(chunks)),
    });
    res.writeHead(ans.status, ans.headers ?? []);
    res.end(ans.body ?? "");
  });
});
server.listen(port, "127.0.0.1", () => console.error(`fake sidecar on 127.0.0.1:${port}`));
const stop = () => {
  console.log(JSON.stringify(Object.fromEntries([...fake.state].map(([k, v]) => [k, v.data]))));
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
