// STAND-IN for KoyaLite's own services (api, auth, project, rls, search, email, studio), whose images are not public.
// One program for every role (--role NAME or $KOYALITE_ROLE). It is honest about what it is: every answer says
// "stand_in": true. What it does for real is what the provisioner's wiring needs checked:
//
//   GET /health (studio also GET /api/health)   -> {"status": "ok", "role": ROLE}
//   GET /                                       -> role, the KOYALITE_*_URL configuration it read, flags, limits
//   api: /rest/v1/sql        -> the database gateway: GET to $KOYALITE_DATABASE_URL/sql, writes to the primary
//        /storage/v1/<path>  -> $KOYALITE_S3_URL/<path>
//        /functions/v1/<p>   -> $KOYALITE_FUNCTIONS_URL/functions/v1/<p>
//   auth: POST /signup       -> a user (id, email), and the event auth.user.created published on the bus through
//                               $KOYALITE_EVENTS_URL (201 once the bus stored it: webhooks deliver it from there)
//   search: /v1/<path>       -> $KOYALITE_WEAVIATE_URL/v1/<path> (with the API key when one is configured)

function arg(name: string): string | undefined {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const role = arg("--role") ?? Deno.env.get("KOYALITE_ROLE") ?? "";
const ROLES = ["api", "auth", "project", "rls", "search", "email", "studio"];
if (!ROLES.includes(role)) {
  console.error(`koyalite-service: --role must be one of ${ROLES.join(", ")} (got ${JSON.stringify(role)})`);
  Deno.exit(64);
}
const env = Deno.env.toObject();
const port = Number(env.PORT ?? "8000");

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), role, message, ...fields }));
}

const config = {
  urls: Object.fromEntries(Object.entries(env).filter(([k]) => /^KOYALITE_[A-Z0-9_]+_(URL|GRPC)$/.test(k))),
  features: Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith("KOYALITE_FEATURE_"))),
  limits: Object.fromEntries(
    Object.entries(env).filter(([k]) => k.startsWith("KOYALITE_LIMIT_") || k.startsWith("KOYALITE_RATE_LIMIT_")),
  ),
  project: env.KOYALITE_PROJECT ?? null,
  environment: env.KOYALITE_ENVIRONMENT ?? null,
  // names only: a secret's value never leaves the process
  secrets: Object.keys(env).filter((k) => env[`${k}_FILE`] !== undefined),
};

async function forward(request: Request, base: string | undefined, path: string, search: string,
  extra: Record<string, string> = {}): Promise<Response> {
  if (!base) return Response.json({ error: "not configured", stand_in: true }, { status: 503 });
  const headers = new Headers(request.headers);
  headers.delete("host");
  for (const [k, v] of Object.entries(extra)) headers.set(k, v);
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
  try {
    const response = await fetch(`${base.replace(/\/+$/, "")}${path}${search}`, {
      method: request.method, headers, body, redirect: "manual", signal: AbortSignal.timeout(60_000),
    });
    if (response.headers.has("fly-replay")) {
      // LiteFS's proxy on a replica answers writes with a Fly.io-only redirect header and an empty 200.
      await response.body?.cancel();
      return Response.json({
        error: `${base} is a LiteFS replica: it answered a ${request.method} with fly-replay ` +
          `(${response.headers.get("fly-replay")}) instead of forwarding it to the primary`,
        stand_in: true,
      }, { status: 502 });
    }
    return new Response(response.body, { status: response.status, headers: response.headers });
  } catch (e) {
    return Response.json({ error: `${base}: ${(e as Error).message}`, stand_in: true }, { status: 502 });
  }
}

/** Publish one event through the event worker; the bus's acknowledgement (stream, seq) or why there is none. */
async function publish(subject: string, event: Record<string, unknown>, key: string): Promise<Record<string, unknown>> {
  if (!env.KOYALITE_EVENTS_URL) return { published: false, reason: "no event bus (features.events is false)" };
  const response = await fetch(`${env.KOYALITE_EVENTS_URL}/publish/${subject}`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": key },
    body: JSON.stringify(event),
    signal: AbortSignal.timeout(10_000),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${subject}: the event worker answered ${response.status}: ${JSON.stringify(answer)}`);
  return { published: true, ...answer };
}

async function signup(request: Request): Promise<Response> {
  const body = await request.json().catch(() => ({}));
  const email = typeof body.email === "string" ? body.email : "";
  if (!/^[^@\s]+@[^@\s]+$/.test(email)) return Response.json({ error: "an email is required", stand_in: true }, { status: 400 });
  const user = { id: crypto.randomUUID(), email, created_at: new Date().toISOString() };
  try {
    const event = await publish("auth.user.created", { type: "auth.user.created", user }, `auth.user.created-${user.id}`);
    return Response.json({ user, event, stand_in: true }, { status: 201 });
  } catch (e) {
    return Response.json({ error: String(e), stand_in: true }, { status: 503 });
  }
}

function handle(request: Request): Promise<Response> | Response {
  const url = new URL(request.url);
  const p = url.pathname;
  if (p === "/health" || (role === "studio" && p === "/api/health")) {
    return Response.json({ status: "ok", role, stand_in: true });
  }
  if (p === "/") return Response.json({ role, stand_in: true, ...config });
  if (role === "api") {
    if (p === "/rest/v1/sql") {
      const write = request.method !== "GET" && request.method !== "HEAD";
      const base = write ? env.KOYALITE_DATABASE_PRIMARY_URL ?? env.KOYALITE_DATABASE_URL : env.KOYALITE_DATABASE_URL;
      return forward(request, base, "/sql", url.search);
    }
    if (p.startsWith("/storage/v1/")) return forward(request, env.KOYALITE_S3_URL, p.slice("/storage/v1".length), url.search);
    if (p.startsWith("/functions/v1/")) return forward(request, env.KOYALITE_FUNCTIONS_URL, p, url.search);
  }
  if (role === "auth" && p === "/signup" && request.method === "POST") return signup(request);
  if (role === "search" && p.startsWith("/v1/")) {
    const extra: Record<string, string> = env.WEAVIATE_API_KEY ? { authorization: `Bearer ${env.WEAVIATE_API_KEY}` } : {};
    return forward(request, env.KOYALITE_WEAVIATE_URL, p, url.search, extra);
  }
  return Response.json({ error: `the ${role} stand-in has no route ${request.method} ${p}`, stand_in: true },
    { status: 404 });
}

// PID 1 in a container ignores SIGTERM without a handler.
for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
log("stand-in listening", { port, urls: Object.keys(config.urls).length });
Deno.serve({ hostname: "0.0.0.0", port, onListen: () => {} }, handle);
