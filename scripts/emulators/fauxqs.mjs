// Starts the fauxqs SQS emulator on 127.0.0.1 only.
//
// Usage: node fauxqs.mjs [port]   (or SLUICE_SQS_PORT; default 48001)
//
// fauxqs's own startFauxqs() always listens on 0.0.0.0 (its `host` option only
// rewrites queue URLs, to sqs.<region>.<host>:<port>), so we build the app and
// listen ourselves. Without a host option queue URLs follow the request's Host
// header: http://127.0.0.1:<port>/000000000000/<name>.
//
// scripts/stack.sh copies this file next to the installed node_modules
// (.local/emulators) so that the bare "fauxqs" import resolves there.
import { buildApp } from "fauxqs";

const port = Number.parseInt(process.argv[2] ?? process.env.SLUICE_SQS_PORT ?? "48001", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`fauxqs: invalid port ${JSON.stringify(process.argv[2] ?? process.env.SLUICE_SQS_PORT)}`);
  process.exit(2);
}

const app = buildApp({ logger: false });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${port}`);

let stopping = false;
async function stop(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`fauxqs: ${signal}, shutting down`);
  try {
    await app.close();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));
