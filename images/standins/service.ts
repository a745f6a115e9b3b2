// STAND-IN for KoyaLite's own services (api, auth, project, rls, search, email, studio), whose images are not public.
// One program for every role (--role NAME or $KOYALITE_ROLE). It is honest about what it is: every answer says
// "stand_in": true. What it does for real is what the provisioner's wiring needs checked:
//
//   GET /health (studio also GET /api/health)   -> {"status": "ok", "role": ROLE}
//   GET /                                       -> role, the KOYALITE_*_URL configuration it read, flags, limits
//   api: /rest/v1/sql        -> the database gateway: GET to $KOYALITE_DATABASE_URL/sql, writes to the primary
//        /storage/v1/<path>  -> $KOYALITE_S3_URL/<path>
//        /functions/v1/<p>   -> $KOYALITE_FUNCTIONS_URL/functions/v1/<p>
//        GET /webhooks       -> the webhooks of $KOYALITE_WEBHOOKS_FILE (secrets redacted)
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

type Webhook = Record<string, unknown>;
let webhooks: Webhook[] = [];
if (env.KOYALITE_WEBHOOKS_FILE) {
  try {
    const doc = JSON.parse(Deno.readTextFileSync(env.KOYALITE_WEBHOOKS_FILE));
    webhooks = (Array.isArray(doc) ? doc : doc.webhooks ?? []) as Webhook[];
  } catch (e) {
    log("cannot read KOYALITE_WEBHOOKS_FILE", { file: env.KOYALITE_WEBHOOKS_FILE, error: String(e) });
    Deno.exit(66);
  }
}

if (role === "api") {
  for (const hook of webhooks) {
    if (typeof hook.secret === "string" && !exists(`/run/secrets/${hook.secret}`)) {
      log("webhook signing secret is not mounted: deliveries cannot be signed", {
        webhook: hook.name, secret: hook.secret, expected: `/run/secrets/${hook.secret}`, level: "warning",
      });
    }
  }
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) =>
      /secret|key|token|password/i.test(k) && typeof v === "string" && !/_env$|_ref$|^secret$/i.test(k)
        ? [k, "[redacted]"]
        : [k, redact(v)]
    ));
  }
  return value;
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

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

function handle(request: Request): Promise<Response> | Response {
  const url = new URL(request.url);
  const p = url.pathname;
  if (p === "/health" || (role === "studio" && p === "/api/health")) {
    return Response.json({ status: "ok", role, stand_in: true });
  }
  if (p === "/") return Response.json({ role, stand_in: true, ...config, webhooks: webhooks.length });
  if (role === "api") {
    if (p === "/rest/v1/sql") {
      const write = request.method !== "GET" && request.method !== "HEAD";
      const base = write ? env.KOYALITE_DATABASE_PRIMARY_URL ?? env.KOYALITE_DATABASE_URL : env.KOYALITE_DATABASE_URL;
      return forward(request, base, "/sql", url.search);
    }
    if (p.startsWith("/storage/v1/")) return forward(request, env.KOYALITE_S3_URL, p.slice("/storage/v1".length), url.search);
    if (p.startsWith("/functions/v1/")) return forward(request, env.KOYALITE_FUNCTIONS_URL, p, url.search);
    if (p === "/webhooks" && request.method === "GET") {
      // A webhook names its signing secret; the API needs it mounted to sign deliveries.
      const hooks = webhooks.map((h) => ({
        ...(redact(h) as Webhook),
        signing_secret_mounted: typeof h.secret === "string" && exists(`/run/secrets/${h.secret}`),
      }));
      return Response.json({ webhooks: hooks, stand_in: true });
    }
  }
  if (role === "search" && p.startsWith("/v1/")) {
    const extra: Record<string, string> = env.WEAVIATE_API_KEY ? { authorization: `Bearer ${env.WEAVIATE_API_KEY}` } : {};
    return forward(request, env.KOYALITE_WEAVIATE_URL, p, url.search, extra);
  }
  return Response.json({ error: `the ${role} stand-in has no route ${request.method} ${p}`, stand_in: true },
    { status: 404 });
}

// PID 1 in a container ignores SIGTERM without a handler.
for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
log("stand-in listening", { port, urls: Object.keys(config.urls).length, webhooks: webhooks.length });
Deno.serve({ hostname: "0.0.0.0", port, onListen: () => {} }, handle);
