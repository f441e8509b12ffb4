// Starts the fauxqs SQS emulator on 127.0.0.1 only.
//
// Usage: node fauxqs.mjs [port]   (or SLUICE_SQS_PORT; default 28001)
//
// fauxqs's own startFauxqs() always listens on 0.0.0.0 (its `host` option only
// rewrites queue URLs, to sqs.<region>.<host>:<port>), so we build the app and
// listen ourselves. Without a host option queue URLs follow the request's Host
// header: http://127.0.0.1:<port>/000000000000/<name>.
//
// Two things are added to the emulator as fauxqs ships it:
//
//   - Keep-alive longer than the clients' idle timeout. Fastify closes a
//     keep-alive connection after 72 s idle; the AWS SDK for Go keeps idle
//     connections for 90 s. A request the client writes on a connection the
//     server is closing fails on the client's side (the SDK retries it), and
//     a server that closes idle connections before its clients do is the
//     classic source of such resets. The rule is: the server's keep-alive
//     outlives every client's idle timeout. We keep connections 120 s.
//
//   - A delivery trace, so that a test that waits in vain can say where each
//     message of its run is: GET /_sluice/trace/<queue name> answers
//     {"deliveries":[{"id","receive","at","lost","what"}],"deleted":[{"id","what"}]},
//     where a delivery is lost when its ReceiveMessage response was written
//     to a connection the client had already closed (the messages stay in
//     flight for the visibility timeout the receive asked for, as on AWS),
//     deleted lists the messages a DeleteMessage(Batch) removed, and what
//     names a pipeline message by the leading fields of its JSON body (kind,
//     source, window, attempt, seq, hop), never its payload.
//     fauxqs's own GET /_fauxqs/queues/<name> shows what is ready, delayed
//     and in flight (with each visibility deadline).
//
// scripts/stack.sh copies this file next to the installed node_modules
// (.local/emulators) so that the bare "fauxqs" import resolves there.
import { buildApp } from "fauxqs";

const port = Number.parseInt(process.argv[2] ?? process.env.SLUICE_SQS_PORT ?? "28001", 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`fauxqs: invalid port ${JSON.stringify(process.argv[2] ?? process.env.SLUICE_SQS_PORT)}`);
  process.exit(2);
}

const KEEP_ALIVE_MS = 120_000;
const TRACE_PER_QUEUE = 20_000; // entries kept per queue and kind, oldest dropped first

const app = buildApp({ logger: false });

// ---------------------------------------------------------------- trace

/** @type {Map<string, {deliveries: object[], deleted: object[], handles: Map<string, {id: string, what: string}>}>} */
const traces = new Map();

function traceOf(queueUrl) {
  const name = String(queueUrl ?? "").split("/").pop();
  let t = traces.get(name);
  if (!t) {
    t = { deliveries: [], deleted: [], handles: new Map() };
    traces.set(name, t);
  }
  return t;
}

function push(list, v) {
  list.push(v);
  if (list.length > TRACE_PER_QUEUE) list.splice(0, list.length - TRACE_PER_QUEUE);
}

// what names a message by the small fields Sluice's messages start with.
function what(body) {
  const head = String(body ?? "").slice(0, 512);
  const parts = [];
  for (const f of ["kind", "source", "window", "attempt", "seq", "hop"]) {
    const m = head.match(new RegExp(`"${f}":("[^"]*"|-?\\d+)`));
    if (m) parts.push(`${f}=${m[1].replace(/"/g, "")}`);
  }
  return parts.join(" ");
}

function target(request) {
  return String(request.headers["x-amz-target"] ?? "").replace(/^AmazonSQS\./, "");
}

app.addHook("onSend", async (request, reply, payload) => {
  if (request.method !== "POST" || target(request) !== "ReceiveMessage" || reply.statusCode !== 200) return payload;
  let out;
  try {
    out = JSON.parse(typeof payload === "string" ? payload : String(payload));
  } catch {
    return payload;
  }
  const messages = out?.Messages ?? [];
  if (messages.length === 0) return payload;
  const t = traceOf(request.body?.QueueUrl);
  const sock = request.raw.socket;
  const lost = !sock || sock.destroyed || !sock.writable;
  const at = new Date().toISOString();
  for (const m of messages) {
    const w = what(m.Body);
    t.handles.set(m.ReceiptHandle, { id: m.MessageId, what: w });
    if (t.handles.size > TRACE_PER_QUEUE) t.handles.delete(t.handles.keys().next().value);
    push(t.deliveries, { id: m.MessageId, receive: Number(m.Attributes?.ApproximateReceiveCount ?? 0), at, lost, what: w });
  }
  if (lost) {
    console.log(`fauxqs: ${at} ReceiveMessage response for ${messages.length} message(s) of ${request.body?.QueueUrl} written to a closed connection; they stay in flight for the visibility timeout`);
  }
  return payload;
});

app.addHook("onResponse", async (request, reply) => {
  if (request.method !== "POST" || reply.statusCode !== 200) return;
  const op = target(request);
  if (op !== "DeleteMessage" && op !== "DeleteMessageBatch") return;
  const t = traceOf(request.body?.QueueUrl);
  const handles = op === "DeleteMessage" ? [request.body?.ReceiptHandle] : (request.body?.Entries ?? []).map((e) => e.ReceiptHandle);
  for (const h of handles) {
    const m = t.handles.get(h);
    if (m !== undefined) push(t.deleted, m);
  }
});

app.get("/_sluice/trace/:queueName", async (request) => {
  const t = traces.get(request.params.queueName);
  return { deliveries: t?.deliveries ?? [], deleted: t?.deleted ?? [] };
});

// ---------------------------------------------------------------- listen

await app.ready();
app.server.keepAliveTimeout = KEEP_ALIVE_MS;
// Node closes a connection whose request headers take longer than this;
// it must not undercut the keep-alive (Node's own advice).
app.server.headersTimeout = KEEP_ALIVE_MS + 5_000;
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on http://127.0.0.1:${port} (keep-alive ${KEEP_ALIVE_MS / 1000}s)`);

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
