// koyalite-probe: exercises the wiring the provisioner created, and exits non-zero with a precise message on the
// first failure.
//
//   koyalite-probe                     write a fresh token everywhere, read it back through the other path
//   koyalite-probe --check-persisted   write nothing: read back what the last run wrote (after a restart)
//   options: --skip db,s3,weaviate,functions,events   --token T (with --check-persisted: the token that must be found)
//            --allow-anonymous-weaviate        --wait-s N (how long to retry a step that is not ready; default 60)
//
// Configuration (environment; NAME_FILE works for every NAME, through the image's entrypoint):
//   KOYALITE_DATABASE_PRIMARY_URL (PROBE_PRIMARY_URL wins)  LiteFS proxy of the primary: writes (POST /sql)
//   PROBE_REPLICA_URL (default KOYALITE_DATABASE_URL)        LiteFS proxy of a replica: the read-back (GET /sql)
//   KOYALITE_S3_URL, PROBE_S3_BUCKET (koyalite-probe)        SeaweedFS S3 gateway; anonymous, or SigV4 when
//                                                            PROBE_S3_ACCESS_KEY/PROBE_S3_SECRET_KEY (or AWS_*) set
//   KOYALITE_WEAVIATE_URL, WEAVIATE_API_KEY                  Weaviate REST + GraphQL, API-key auth
//   KOYALITE_FUNCTIONS_URL, JWT_SECRET (optional)            edge runtime; a JWT is minted when JWT_SECRET is set
//   KOYALITE_EVENTS_URL, PROBE_EVENT_SUBJECT                 event worker: publish an event (storage.object.created by
//                                                            default) and see a consumer deliver it with a 2xx; the
//                                                            step is left out when the environment has no event bus

const env = Deno.env.toObject();
const args = Deno.args;

function option(name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

const CHECK_PERSISTED = args.includes("--check-persisted");
const SKIP = new Set((option("--skip") ?? env.PROBE_SKIP ?? "").split(",").map((s) => s.trim()).filter(Boolean));
const WAIT_MS = Number(option("--wait-s") ?? env.PROBE_WAIT_S ?? "60") * 1000;
const REQUEST_TIMEOUT_MS = 15_000;
const CLASS = "KoyaliteProbe";
const LATEST_ID = "6b6f7961-6c69-4574-a570-726f62650001"; // fixed: the object --check-persisted reads
const BUCKET = env.PROBE_S3_BUCKET ?? "koyalite-probe";

class ProbeFailure extends Error {}

const results: Record<string, unknown>[] = [];

function fail(step: string, message: string): never {
  throw new ProbeFailure(`${step}: ${message}`);
}

async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const value = await fn();
  const ms = Math.round(performance.now() - start);
  results.push({ step: name, ok: true, ms });
  console.log(`ok    ${name.padEnd(30)} ${String(ms).padStart(6)} ms`);
  return value;
}

function need(name: string, ...names: string[]): string {
  for (const n of [name, ...names]) if (env[n]) return env[n].replace(/\/+$/, "");
  fail("config", `${[name, ...names].join(" or ")} is not set (use --skip to leave a part out)`);
}

type Answer = { status: number; headers: Headers; text: string; json: unknown };

// A new connection for every request: a retried step must ask the address again, not whoever answered the first
// time on a kept-alive connection (a Service's address can lead elsewhere while its endpoints change).
const FRESH = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

async function http(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, {
    ...init, client: FRESH, redirect: "manual", signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  } as RequestInit);
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Retry `attempt` until it returns a value, or the wait runs out: then fail with the last reason it gave. */
async function until<T>(stepName: string, attempt: () => Promise<T | string>, waitMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + waitMs;
  let last = "";
  for (let i = 0;; i++) {
    try {
      const out = await attempt();
      if (typeof out !== "string") return out;
      last = out;
    } catch (e) {
      if (e instanceof ProbeFailure) throw e;
      last = (e as Error).message;
    }
    if (Date.now() >= deadline) fail(stepName, `${last} (gave up after ${Math.round(waitMs / 1000)}s)`);
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** i, 3000)));
  }
}

/** The headers that tell who answered (LiteFS's proxy, the gateway, or something else on that address). */
function headersOf(a: Answer): string {
  return ["server", "content-type", "content-length", "fly-replay"]
    .filter((h) => a.headers.has(h)).map((h) => `${h}: ${a.headers.get(h)}`).join(", ") || "no identifying headers";
}

function short(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

// --- database: LiteFS proxy -> koyalite-db ----------------------------------------------------------------------

type SqlAnswer = { rows: Record<string, unknown>[]; primary?: boolean; primary_host?: string; changes?: number };

async function sqlWrite(stepName: string, base: string, sql: string, params: unknown[] = []):
  Promise<{ body: SqlAnswer; txid: string | null }> {
  return await until(stepName, async () => {
    const a = await http(`${base}/sql`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ sql, params }),
    });
    const replay = a.headers.get("fly-replay");
    if (replay) {
      fail(stepName, `${base} is a LiteFS replica, not the primary: it answered the write with "fly-replay: ${replay}"` +
        " (a Fly.io-only redirect) and nothing was written. The primary URL must reach the primary node only.");
    }
    if (a.status === 502 || a.status === 503 || a.status === 504) return `${base}/sql answered ${a.status}: ${short(a.text)}`;
    if (a.status !== 200) fail(stepName, `POST ${base}/sql answered ${a.status}: ${short(a.text)}`);
    const body = a.json as SqlAnswer;
    if (!body || !Array.isArray(body.rows)) fail(stepName, `POST ${base}/sql: no "rows" in ${short(a.text)}`);
    const cookie = a.headers.get("set-cookie") ?? "";
    const txid = /__txid=([^;]+)/.exec(cookie)?.[1] ?? null;
    return { body, txid };
  });
}

async function sqlRead(stepName: string, base: string, sql: string, params: unknown[], txid: string | null,
  accept: (body: SqlAnswer) => string | null): Promise<SqlAnswer> {
  const url = `${base}/sql?q=${encodeURIComponent(sql)}&params=${encodeURIComponent(JSON.stringify(params))}`;
  return await until(stepName, async () => {
    const a = await http(url, txid ? { headers: { cookie: `__txid=${txid}` } } : {});
    if (a.status !== 200) return `GET ${base}/sql answered ${a.status} (${headersOf(a)}): ${short(a.text)}`;
    const body = a.json as SqlAnswer;
    if (!body || !Array.isArray(body.rows)) return `GET ${base}/sql: no "rows" in ${short(a.text)}`;
    return accept(body) ?? body;
  });
}

async function probeDatabase(token: string): Promise<Record<string, unknown>> {
  const primary = need("PROBE_PRIMARY_URL", "KOYALITE_DATABASE_PRIMARY_URL");
  const replicaExplicit = Boolean(env.PROBE_REPLICA_URL);
  const replica = need("PROBE_REPLICA_URL", "KOYALITE_DATABASE_URL");
  if (CHECK_PERSISTED) {
    const latest = "SELECT token FROM koyalite_probe ORDER BY id DESC LIMIT 1";
    const found: Record<string, string> = {};
    for (const [name, base] of [["primary", primary], ["replica", replica]]) {
      await step(`db.read-latest (${name})`, async () => {
        const body = await sqlRead(`db.read-latest (${name})`, base, latest, [], null,
          (b) => b.rows.length ? null : "the koyalite_probe table is empty");
        found[name] = String(body.rows[0].token);
      });
    }
    if (found.primary !== found.replica) {
      fail("db.read-latest", `primary has ${found.primary} but replica ${replica} has ${found.replica}`);
    }
    return { token: found.primary };
  }
  await step("db.create-table (primary)", () =>
    sqlWrite("db.create-table (primary)", primary,
      "CREATE TABLE IF NOT EXISTS koyalite_probe (id INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL UNIQUE," +
        " written_at TEXT NOT NULL)"));
  const written = await step("db.insert (primary)", async () => {
    const w = await sqlWrite("db.insert (primary)", primary, "INSERT INTO koyalite_probe (token, written_at) VALUES (?, ?)",
      [token, new Date().toISOString()]);
    if (w.body.changes !== undefined && w.body.changes !== 1) {
      fail("db.insert (primary)", `expected 1 row changed, got ${w.body.changes}`);
    }
    if (w.body.primary === false) fail("db.insert (primary)", `${primary} says it is not the primary`);
    return w;
  });
  const read = await step("db.read-back (replica)", () =>
    sqlRead("db.read-back (replica)", replica, "SELECT token FROM koyalite_probe WHERE token = ?", [token], written.txid,
      (b) => b.rows.length === 1 && b.rows[0].token === token ? null : `token ${token} not replicated yet`));
  if (replicaExplicit && read.primary === true) {
    fail("db.read-back (replica)", `PROBE_REPLICA_URL=${replica} was served by the primary, not by a replica`);
  }
  return { token, txid: written.txid, read_from: read.primary ? "primary" : `replica of ${read.primary_host}` };
}

// --- object storage: SeaweedFS S3 gateway -------------------------------------------------------------------------

const enc = new TextEncoder();
const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
async function sha256(data: Uint8Array<ArrayBuffer> | string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? enc.encode(data) : data));
}
async function hmac(key: ArrayBuffer | Uint8Array<ArrayBuffer>, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return await crypto.subtle.sign("HMAC", k, enc.encode(data));
}

/** AWS Signature Version 4 headers for one S3 request (unsigned when no credentials are configured). */
async function s3Headers(method: string, url: URL, body: Uint8Array<ArrayBuffer>): Promise<Record<string, string>> {
  const access = env.PROBE_S3_ACCESS_KEY ?? env.AWS_ACCESS_KEY_ID;
  const secret = env.PROBE_S3_SECRET_KEY ?? env.AWS_SECRET_ACCESS_KEY;
  if (!access || !secret) return {};
  const region = env.PROBE_S3_REGION ?? env.AWS_REGION ?? "us-east-1";
  const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const date = amzDate.slice(0, 8);
  const payload = await sha256(body);
  const query = [...url.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const headers = `host:${url.host}\nx-amz-content-sha256:${payload}\nx-amz-date:${amzDate}\n`;
  const signed = "host;x-amz-content-sha256;x-amz-date";
  const canonical = [method, url.pathname, query, headers, signed, payload].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256(canonical)].join("\n");
  let key = await hmac(enc.encode(`AWS4${secret}`), date);
  for (const part of [region, "s3", "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  return {
    "x-amz-date": amzDate,
    "x-amz-content-sha256": payload,
    authorization: `AWS4-HMAC-SHA256 Credential=${access}/${scope}, SignedHeaders=${signed}, Signature=${signature}`,
  };
}

async function s3(method: string, base: string, path: string, body?: string): Promise<Answer> {
  const url = new URL(`${base}${path}`);
  const bytes = enc.encode(body ?? "");
  const headers = await s3Headers(method, url, bytes);
  if (body !== undefined) headers["content-type"] = "application/json";
  return await http(url.href, { method, headers, body: body === undefined ? undefined : bytes });
}

async function probeStorage(token: string): Promise<Record<string, unknown>> {
  const base = need("KOYALITE_S3_URL");
  if (CHECK_PERSISTED) {
    const latest = await step("s3.get latest", () =>
      until("s3.get latest", async () => {
        const a = await s3("GET", base, `/${BUCKET}/probe/latest.json`);
        if (a.status === 404) fail("s3.get latest", `${base}/${BUCKET}/probe/latest.json is gone (404): ${short(a.text)}`);
        if (a.status !== 200) return `GET ${BUCKET}/probe/latest.json answered ${a.status}: ${short(a.text)}`;
        return a;
      }));
    const t = (latest.json as { token?: string })?.token;
    if (!t) fail("s3.get latest", `no token in ${short(latest.text)}`);
    return { token: t };
  }
  await step("s3.create-bucket", () =>
    until("s3.create-bucket", async () => {
      const a = await s3("PUT", base, `/${BUCKET}`);
      if (a.status === 200 || (a.status === 409 && /BucketAlready(OwnedByYou|Exists)/.test(a.text))) return a;
      if (a.status === 403) {
        fail("s3.create-bucket", `${base} refused the request (403): the gateway has auth on; set PROBE_S3_ACCESS_KEY ` +
          `and PROBE_S3_SECRET_KEY. ${short(a.text)}`);
      }
      return `PUT /${BUCKET} answered ${a.status}: ${short(a.text)}`;
    }));
  const document = JSON.stringify({ token, written_at: new Date().toISOString() });
  for (const key of [`probe/${token}.json`, "probe/latest.json"]) {
    await step(`s3.put ${key.startsWith("probe/latest") ? "latest" : "object"}`, () =>
      until(`s3.put ${key}`, async () => {
        const a = await s3("PUT", base, `/${BUCKET}/${key}`, document);
        return a.status === 200 ? a : `PUT /${BUCKET}/${key} answered ${a.status}: ${short(a.text)}`;
      }));
  }
  await step("s3.get object", () =>
    until("s3.get object", async () => {
      const a = await s3("GET", base, `/${BUCKET}/probe/${token}.json`);
      if (a.status !== 200) return `GET /${BUCKET}/probe/${token}.json answered ${a.status}: ${short(a.text)}`;
      if (a.text !== document) fail("s3.get object", `read back ${short(a.text)}, wrote ${document}`);
      return a;
    }));
  return { token, bucket: BUCKET };
}

// --- vector search: Weaviate ------------------------------------------------------------------------------------

async function probeWeaviate(token: string): Promise<Record<string, unknown>> {
  const base = need("KOYALITE_WEAVIATE_URL");
  const key = env.WEAVIATE_API_KEY;
  if (!key) fail("weaviate.config", "WEAVIATE_API_KEY (or WEAVIATE_API_KEY_FILE) is not set");
  const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };
  await step("weaviate.ready", () =>
    until("weaviate.ready", async () => {
      const a = await http(`${base}/v1/.well-known/ready`);
      return a.status === 200 ? a : `GET /v1/.well-known/ready answered ${a.status}`;
    }));
  if (!args.includes("--allow-anonymous-weaviate")) {
    await step("weaviate.refuses-anonymous", async () => {
      const a = await http(`${base}/v1/schema`);
      if (a.status === 200) {
        fail("weaviate.refuses-anonymous", "GET /v1/schema without an API key answered 200: anonymous access is on " +
          "(AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED should be false)");
      }
      if (a.status !== 401 && a.status !== 403) fail("weaviate.refuses-anonymous", `expected 401, got ${a.status}`);
    });
    await step("weaviate.refuses-wrong-key", async () => {
      const a = await http(`${base}/v1/schema`, { headers: { authorization: "Bearer koyalite-probe-wrong-key" } });
      if (a.status !== 401 && a.status !== 403) {
        fail("weaviate.refuses-wrong-key", `a wrong API key got ${a.status}, expected 401`);
      }
    });
  }
  if (CHECK_PERSISTED) {
    const a = await step("weaviate.get latest", async () => {
      const a = await http(`${base}/v1/objects/${CLASS}/${LATEST_ID}`, { headers: auth });
      if (a.status === 401 || a.status === 403) fail("weaviate.get latest", `the API key was refused (${a.status})`);
      if (a.status !== 200) fail("weaviate.get latest", `object ${CLASS}/${LATEST_ID} answered ${a.status}: ${short(a.text)}`);
      return a;
    });
    const t = (a.json as { properties?: { token?: string } })?.properties?.token;
    if (!t) fail("weaviate.get latest", `no token in ${short(a.text)}`);
    return { token: t };
  }
  await step("weaviate.schema", async () => {
    const got = await http(`${base}/v1/schema/${CLASS}`, { headers: auth });
    if (got.status === 401 || got.status === 403) {
      fail("weaviate.schema", `the API key from WEAVIATE_API_KEY was refused (${got.status}): ${short(got.text)}`);
    }
    if (got.status === 200) return;
    const made = await http(`${base}/v1/schema`, {
      method: "POST", headers: auth,
      body: JSON.stringify({
        class: CLASS, vectorizer: "none",
        properties: [{ name: "token", dataType: ["text"], tokenization: "field" }, { name: "written_at", dataType: ["text"] }],
      }),
    });
    if (made.status !== 200) fail("weaviate.schema", `creating class ${CLASS} answered ${made.status}: ${short(made.text)}`);
  });
  const vector = [0.1, 0.2, 0.3];
  const properties = { token, written_at: new Date().toISOString() };
  await step("weaviate.insert", async () => {
    const a = await http(`${base}/v1/objects`, {
      method: "POST", headers: auth, body: JSON.stringify({ class: CLASS, id: crypto.randomUUID(), properties, vector }),
    });
    if (a.status !== 200) fail("weaviate.insert", `POST /v1/objects answered ${a.status}: ${short(a.text)}`);
    const put = await http(`${base}/v1/objects/${CLASS}/${LATEST_ID}`, {
      method: "PUT", headers: auth, body: JSON.stringify({ class: CLASS, id: LATEST_ID, properties, vector }),
    });
    if (put.status === 200) return;
    const post = await http(`${base}/v1/objects`, {
      method: "POST", headers: auth, body: JSON.stringify({ class: CLASS, id: LATEST_ID, properties, vector }),
    });
    if (post.status !== 200) {
      fail("weaviate.insert", `upserting ${CLASS}/${LATEST_ID}: PUT ${put.status}, POST ${post.status}: ${short(post.text)}`);
    }
  });
  await step("weaviate.query", () =>
    until("weaviate.query", async () => {
      const query = `{ Get { ${CLASS}(where: {path: ["token"], operator: Equal, valueText: ${JSON.stringify(token)}}) ` +
        "{ token } } }";
      const a = await http(`${base}/v1/graphql`, { method: "POST", headers: auth, body: JSON.stringify({ query }) });
      if (a.status !== 200) return `POST /v1/graphql answered ${a.status}: ${short(a.text)}`;
      const body = a.json as { data?: { Get?: Record<string, { token: string }[]> }; errors?: unknown };
      if (body?.errors) return `GraphQL errors: ${short(JSON.stringify(body.errors))}`;
      const hits = body?.data?.Get?.[CLASS] ?? [];
      return hits.length === 2 && hits.every((h) => h.token === token) ? a
        : `expected 2 objects with token ${token}, GraphQL found ${hits.length}`;
    }, 20_000));
  return { token, class: CLASS };
}

// --- edge functions ---------------------------------------------------------------------------------------------

async function mintJwt(secret: string): Promise<string> {
  const b64 = (s: string | ArrayBuffer) =>
    btoa(typeof s === "string" ? s : String.fromCharCode(...new Uint8Array(s)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const now = Math.floor(Date.now() / 1000);
  const head = `${b64(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64(JSON.stringify({
    role: "service_role", iss: "koyalite-probe", iat: now, exp: now + 300,
  }))}`;
  return `${head}.${b64(await hmac(enc.encode(secret), head))}`;
}

async function probeFunctions(): Promise<Record<string, unknown>> {
  const base = need("KOYALITE_FUNCTIONS_URL");
  const headers: Record<string, string> = {};
  if (env.JWT_SECRET) headers.authorization = `Bearer ${await mintJwt(env.JWT_SECRET)}`;
  await step("functions.health", () =>
    until("functions.health", async () => {
      const a = await http(`${base}/_internal/health`);
      return a.status === 200 ? a : `GET /_internal/health answered ${a.status}`;
    }));
  await step("functions.hello", () =>
    until("functions.hello", async () => {
      const a = await http(`${base}/functions/v1/hello?name=probe`, { headers });
      if (a.status === 401) {
        fail("functions.hello", `the runtime wants a JWT (verify_jwt) ${env.JWT_SECRET ? "and refused ours" :
          "and the probe has no JWT_SECRET to mint one"}: ${short(a.text)}`);
      }
      if (a.status !== 200) return `GET /functions/v1/hello?name=probe answered ${a.status}: ${short(a.text)}`;
      const message = (a.json as { message?: string })?.message;
      if (message !== "hello, probe") fail("functions.hello", `expected {"message":"hello, probe"}, got ${short(a.text)}`);
      return a;
    }));
  return { hello: "hello, probe" };
}

async function probeEvents(token: string): Promise<Record<string, unknown>> {
  const base = need("KOYALITE_EVENTS_URL");
  const subject = env.PROBE_EVENT_SUBJECT ?? "storage.object.created";
  type Stats = Record<string, { succeeded: number; bound: boolean }>;
  const succeeded = (a: Answer) => Object.values(a.json as Stats).reduce((sum, c) => sum + c.succeeded, 0);
  await step("events.health", () =>
    until("events.health", async () => {
      const a = await http(`${base}/health`);
      return a.status === 200 ? a : `GET /health answered ${a.status}: ${short(a.text)} (are its consumers declared?)`;
    }));
  const before = succeeded(await http(`${base}/stats`));
  const published = await step("events.publish", async () => {
    const a = await http(`${base}/publish/${subject}`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": `probe-${token}` },
      body: JSON.stringify({ bucket: BUCKET, key: `${token}.png`, probe: token }),
    });
    if (a.status !== 201) fail("events.publish", `POST /publish/${subject} answered ${a.status}: ${short(a.text)}`);
    return a.json as { stream: string; seq: number };
  });
  await step("events.delivered", () =>
    until("events.delivered", async () => {
      const now = succeeded(await http(`${base}/stats`));
      return now > before ? now : `no consumer has delivered ${subject} #${published.seq} with a 2xx yet (GET /stats)`;
    }));
  return { subject, stream: published.stream, seq: published.seq };
}

// --- main -------------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const token = option("--token") ?? `probe-${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
  console.log(`koyalite-probe ${CHECK_PERSISTED ? "--check-persisted" : `writing token ${token}`}`);
  const report: Record<string, unknown> = {};
  try {
    if (!SKIP.has("db")) report.db = await probeDatabase(token);
    if (!SKIP.has("s3")) report.s3 = await probeStorage(token);
    if (!SKIP.has("weaviate")) report.weaviate = await probeWeaviate(token);
    if (!SKIP.has("functions")) report.functions = await probeFunctions();
    if (!SKIP.has("events") && !CHECK_PERSISTED && env.KOYALITE_EVENTS_URL) report.events = await probeEvents(token);
    if (CHECK_PERSISTED) {
      const found = Object.fromEntries(
        ["db", "s3", "weaviate"].filter((k) => report[k]).map((k) => [k, (report[k] as { token: string }).token]),
      );
      const expected = option("--token") ?? Object.values(found)[0];
      const lost = Object.entries(found).filter(([, t]) => t !== expected);
      if (lost.length) {
        fail("persisted", `expected token ${expected} everywhere, found ${JSON.stringify(found)}`);
      }
      report.token = expected;
    } else {
      report.token = token;
    }
  } catch (e) {
    const message = e instanceof ProbeFailure ? e.message : `unexpected error: ${(e as Error).stack ?? e}`;
    console.error(`FAIL  ${message}`);
    console.log(JSON.stringify({ ok: false, error: message, steps: results }));
    return 1;
  }
  console.log(JSON.stringify({ ok: true, mode: CHECK_PERSISTED ? "check-persisted" : "write", ...report, steps: results }));
  return 0;
}

Deno.exit(await main());
