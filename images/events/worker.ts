// koyalite-events: the bridge between the project's services and its event bus (NATS JetStream).
//
//   POST /publish/<subject>  body -> stored in the stream that captures <subject> (201 {stream, seq, duplicate});
//                            an `Idempotency-Key` header makes a retried publish count once
//   POST /sources/seaweedfs  SeaweedFS's filer webhook notification (bearer $KOYALITE_SOURCE_TOKEN): a file created
//                            or deleted under /buckets/<bucket>/ becomes storage.object.created / .deleted
//                            ({bucket, key, size}); a retried notification of the same change counts once
//   GET  /health             200 when connected and every consumer is bound, else 503
//   GET  /stats              per consumer: delivered, succeeded, retried, dead-lettered since start
//
// Every consumer of $KOYALITE_EVENTS_FILE is drained: each message is POSTed to the consumer's function or webhook.
// A 2xx acknowledges it (and waits for the server to confirm the acknowledgement); anything else, a timeout or a
// refused connection is retried after the consumer's next backoff wait (the last one repeats) until max_deliver
// tries, then the message goes to the dead-letter subject with why, and is terminated. A delivery the worker never
// answers (it was killed) comes back after ack_wait: nothing is acknowledged before its receiver said 2xx.
//
// Webhook deliveries are signed: X-Koyalite-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the
// webhook's secret>, X-Koyalite-Timestamp: <unix seconds>. The secret's value is read from the environment variable
// the configuration names (filled from a file by the image's entrypoint), never from the configuration itself.

import { connect, headers, type NatsConnection } from "npm:@nats-io/transport-node@3.4.0";
import { type JsMsg, jetstream, type JetStreamClient } from "npm:@nats-io/jetstream@3.4.0";

interface ConsumerConfig {
  name: string;
  stream: string;
  deliver: "function" | "webhook";
  target: string;
  url: string;
  secret_env: string | null;
  timeout_s: number;
  max_deliver: number;
  backoff_s: number[];
  max_in_flight: number;
  dead_letter: string;
}

interface Config {
  bus: { url: string; user: string };
  publish: string[];
  consumers: ConsumerConfig[];
}

interface Counts {
  delivered: number;
  succeeded: number;
  retried: number;
  dead_lettered: number;
  bound: boolean;
}

const env = Deno.env.toObject();
const log = (message: string, fields: Record<string, unknown> = {}) =>
  console.log(JSON.stringify({ time: new Date().toISOString(), service: "koyalite-events", message, ...fields }));

const config: Config = JSON.parse(Deno.readTextFileSync(env.KOYALITE_EVENTS_FILE ?? "/etc/koyalite/events/events.json"));
const port = Number(env.PORT ?? "8080");
const stats = new Map<string, Counts>(
  config.consumers.map((c) => [c.name, { delivered: 0, succeeded: 0, retried: 0, dead_lettered: 0, bound: false }]),
);
const encoder = new TextEncoder();
let stopping = false;

// -- subjects ---------------------------------------------------------------------------------------------------

/** Whether a NATS subject filter (`*` one token, a final `>` the rest) matches a literal subject. */
function matches(filter: string, subject: string): boolean {
  const want = filter.split("."), got = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    if (want[i] === ">") return got.length > i;
    if (i >= got.length || (want[i] !== "*" && want[i] !== got[i])) return false;
  }
  return got.length === want.length;
}

const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

// -- delivery ---------------------------------------------------------------------------------------------------

async function sign(secret: string, timestamp: string, body: Uint8Array): Promise<string> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const signed = new Uint8Array([...encoder.encode(`${timestamp}.`), ...body]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One delivery: the receiver's status, or why there was none. */
async function deliver(c: ConsumerConfig, m: JsMsg): Promise<{ ok: boolean; status: number; error: string }> {
  const delivery = `${m.info.stream}-${m.info.streamSequence}`;
  const sent: Record<string, string> = {
    "content-type": "application/json",
    "x-koyalite-event": m.subject,
    "x-koyalite-delivery": delivery,
    "x-koyalite-attempt": String(m.info.deliveryCount),
  };
  if (c.deliver === "webhook") {
    const secret = c.secret_env ? env[c.secret_env] : undefined;
    if (!secret) return { ok: false, status: 0, error: `the signing secret is not set (${c.secret_env})` };
    const timestamp = String(Math.floor(Date.now() / 1000));
    sent["x-koyalite-timestamp"] = timestamp;
    sent["x-koyalite-signature"] = `sha256=${await sign(secret, timestamp, m.data)}`;
  }
  try {
    const response = await fetch(c.url, { method: "POST", headers: sent, body: new Uint8Array(m.data), signal: AbortSignal.timeout(c.timeout_s * 1000) });
    await response.body?.cancel();
    return { ok: response.status >= 200 && response.status < 300, status: response.status, error: response.ok ? "" : `HTTP ${response.status}` };
  } catch (e) {
    return { ok: false, status: 0, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

async function handle(js: JetStreamClient, c: ConsumerConfig, m: JsMsg): Promise<void> {
  const counts = stats.get(c.name)!;
  counts.delivered++;
  const attempt = m.info.deliveryCount;
  const result = await deliver(c, m);
  if (result.ok) {
    await m.ackAck(); // the server has the acknowledgement: this message is never delivered again
    counts.succeeded++;
    return;
  }
  if (attempt >= c.max_deliver) {
    const h = headers();
    h.set("Koyalite-Consumer", c.name);
    h.set("Koyalite-Subject", m.subject);
    h.set("Koyalite-Stream-Sequence", String(m.info.streamSequence));
    h.set("Koyalite-Attempts", String(attempt));
    h.set("Koyalite-Last-Error", result.error.slice(0, 200));
    // a retried dead-letter publish of the same message counts once
    await js.publish(c.dead_letter, m.data, { headers: h, msgID: `${c.name}-${m.info.stream}-${m.info.streamSequence}` });
    m.term(`dead-lettered after ${attempt} attempts: ${result.error}`);
    counts.dead_lettered++;
    log("dead-lettered", { consumer: c.name, subject: m.subject, seq: m.info.streamSequence, attempts: attempt, error: result.error });
    return;
  }
  const wait = c.backoff_s[Math.min(attempt - 1, c.backoff_s.length - 1)] ?? 1;
  m.nak(Math.round(wait * 1000));
  counts.retried++;
  log("delivery failed; retrying", { consumer: c.name, subject: m.subject, seq: m.info.streamSequence, attempt, wait_s: wait, error: result.error });
}

async function drain(js: JetStreamClient, c: ConsumerConfig): Promise<void> {
  const counts = stats.get(c.name)!;
  while (!stopping) {
    try {
      const consumer = await js.consumers.get(c.stream, c.name);
      counts.bound = true;
      const messages = await consumer.consume({ max_messages: Math.max(1, c.max_in_flight) });
      const running = new Set<Promise<void>>();
      for await (const m of messages) {
        const job = handle(js, c, m).catch((e) => log("delivery crashed", { consumer: c.name, error: String(e) }));
        running.add(job);
        job.finally(() => running.delete(job));
        if (running.size >= Math.max(1, c.max_in_flight)) await Promise.race(running);
      }
      await Promise.all(running);
    } catch (e) {
      counts.bound = false;
      if (!stopping) log("consumer not available; retrying in 1s", { consumer: c.name, stream: c.stream, error: String(e) });
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

// -- main -------------------------------------------------------------------------------------------------------

const nc: NatsConnection = await connect({
  servers: config.bus.url,
  user: env.NATS_USER ?? config.bus.user,
  pass: env.NATS_PASSWORD,
  name: `koyalite-events ${Deno.hostname()}`,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  waitOnFirstConnect: true,
});
const js = jetstream(nc);
log("connected", { server: nc.getServer(), consumers: config.consumers.length });
(async () => {
  for await (const status of nc.status()) log("bus status", { type: status.type });
})();
const workers = config.consumers.map((c) => drain(js, c));

async function publish(request: Request, subject: string): Promise<Response> {
  if (!SUBJECT.test(subject) || !config.publish.some((f) => matches(f, subject))) {
    return Response.json({ error: `no stream keeps ${subject}`, publishable: config.publish }, { status: 403 });
  }
  const body = new Uint8Array(await request.arrayBuffer());
  const key = request.headers.get("idempotency-key");
  try {
    const ack = await js.publish(subject, body, key ? { msgID: key } : undefined);
    return Response.json({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate }, { status: 201 });
  } catch (e) {
    return Response.json({ error: String(e) }, { status: 503 });
  }
}

/** A filer notification ({key, event_type, message: EventNotification as JSON}) as a storage event, or why not one. */
function storageEvent(note: Record<string, any>): { subject: string; event: Record<string, unknown>; id: string } | string {
  const match = /^\/buckets\/([^/]+)\/(.+)$/.exec(String(note.key ?? ""));
  if (!match) return "not an object under /buckets/<bucket>/";
  const data = note.message ?? {};
  const created = note.event_type === "create";
  const entry = created ? data.new_entry : data.old_entry;
  if (!entry || entry.is_directory) return "not a file";
  if (note.event_type !== "create" && note.event_type !== "delete") return `event type ${note.event_type} is not reported`;
  const [, bucket, key] = match;
  const size = Number(entry.attributes?.file_size ?? 0);
  // the same change notified twice (the filer retries) publishes once; two changes within a second of each other
  // and of the same size would count once too
  const mtime = `${entry.attributes?.mtime ?? ""}-${size}`;
  const subject = created ? "storage.object.created" : "storage.object.deleted";
  return { subject, event: { type: subject, bucket, key, size }, id: `seaweedfs-${note.event_type}-${bucket}/${key}-${mtime}` };
}

async function fromSeaweedFS(request: Request): Promise<Response> {
  const token = env.KOYALITE_SOURCE_TOKEN;
  if (!token || request.headers.get("authorization") !== `Bearer ${token}`) {
    return Response.json({ error: "a bearer token is required" }, { status: 401 });
  }
  const note = await request.json().catch(() => null);
  if (!note || typeof note !== "object") return Response.json({ error: "a JSON notification is expected" }, { status: 400 });
  const found = storageEvent(note);
  if (typeof found === "string") return Response.json({ ignored: found }, { status: 202 });
  if (!config.publish.some((f) => matches(f, found.subject))) return Response.json({ ignored: `no stream keeps ${found.subject}` }, { status: 202 });
  try {
    const ack = await js.publish(found.subject, encoder.encode(JSON.stringify(found.event)), { msgID: found.id });
    return Response.json({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate }, { status: 201 });
  } catch (e) {
    return Response.json({ error: String(e) }, { status: 503 }); // the filer retries
  }
}

const server = Deno.serve({ port, hostname: "0.0.0.0", onListen: () => log("listening", { port }) }, async (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/health") {
    const bound = [...stats.values()].every((c) => c.bound);
    const healthy = !nc.isClosed() && bound;
    return Response.json({ ok: healthy, connected: !nc.isClosed(), consumers_bound: bound }, { status: healthy ? 200 : 503 });
  }
  if (path === "/stats") return Response.json(Object.fromEntries(stats));
  if (path.startsWith("/publish/") && request.method === "POST") return publish(request, decodeURIComponent(path.slice(9)));
  if (path === "/sources/seaweedfs" && request.method === "POST") return fromSeaweedFS(request);
  return Response.json({ error: "not found" }, { status: 404 });
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    stopping = true;
    log("stopping: draining the bus connection");
    await nc.drain().catch(() => {});
    await server.shutdown();
    Deno.exit(0);
  });
}
await Promise.all(workers);
