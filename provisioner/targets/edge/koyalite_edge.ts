// KoyaLite's edge entry library: serves a project's functions on a hosted edge platform (Cloudflare Workers, Deno
// Deploy) the way the self-hosted edge runtime (images/edge-runtime/main.ts) serves them.
//
// `koyalite render` writes this file beside the functions and a generated entry that imports it; the entry hands
// over the spec (below), each function's default export, and where the platform keeps variables and secrets.
//
//   ANY /functions/v1/<route>[/…]  -> the function whose routes contain /<route>, else the function named <route>
//   anything else                  -> 404
//
// Per call, a function sees only its own environment through `Deno.env` (its `env`, its secrets under the names it
// declared, and the project's KOYALITE_* settings), as in the self-hosted runtime: one isolate serves every function
// here, so `Deno.env` reads the calling function's view from an AsyncLocalStorage. A call that runs past the
// function's `timeout` gets a 504 (the platform's own CPU and memory limits stop what this cannot). With
// `verify_jwt`, a call needs `Authorization: Bearer <JWT>` signed (HS256) with the project's JWT secret.

import { AsyncLocalStorage } from "node:async_hooks";

export type FunctionSpec = {
  name: string;
  routes: string[];
  env: Record<string, string>;
  /** variable the function reads -> name of the platform secret holding it */
  secrets: Record<string, string>;
  timeout_s: number;
};
export type CronSpec = { name: string; schedule: string; function: string };
export type Spec = {
  project: string;
  environment: string;
  platform: string;
  verify_jwt: boolean;
  /** name of the platform secret holding the project's JWT secret, when verify_jwt */
  jwt_secret: string | null;
  /** names of the project settings every function sees (KOYALITE_API_URL, …): the platform's variables */
  shared: string[];
  functions: FunctionSpec[];
  crons: CronSpec[];
};
export type Module = { fetch(request: Request): Response | Promise<Response> };
/** Where the platform keeps a secret or variable: Workers' `env` bindings, Deno Deploy's environment. */
export type Lookup = (name: string) => string | undefined;

const views = new AsyncLocalStorage<Record<string, string>>();

type EnvApi = { get(k: string): string | undefined; has(k: string): boolean; toObject(): Record<string, string> };

/** `Deno.env` answers from the calling function's view; outside a call, from the platform's own (Deno) or nothing. */
function installEnv(): void {
  const g = globalThis as unknown as { Deno?: { env: EnvApi } };
  const own = g.Deno?.env;
  const outside = own ? { get: own.get.bind(own), has: own.has.bind(own), toObject: own.toObject.bind(own) } : null;
  const env: EnvApi = {
    get: (k) => {
      const view = views.getStore();
      return view ? view[k] : outside?.get(k);
    },
    has: (k) => {
      const view = views.getStore();
      return view ? k in view : (outside?.has(k) ?? false);
    },
    toObject: () => ({ ...(views.getStore() ?? outside?.toObject() ?? {}) }),
  };
  if (g.Deno) Object.assign(g.Deno.env, env);
  else g.Deno = { env };
}

function view(spec: Spec, fn: FunctionSpec, lookup: Lookup): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of spec.shared) {
    const value = lookup(name);
    if (value !== undefined) out[name] = value;
  }
  Object.assign(out, fn.env);
  for (const [variable, secret] of Object.entries(fn.secrets)) {
    const value = lookup(secret);
    if (value !== undefined) out[variable] = value;
  }
  return out;
}

export function route(functions: FunctionSpec[], pathname: string): FunctionSpec | null {
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(prefix + "/");
  if (!under(pathname, "/functions/v1")) return null;
  const rest = pathname.slice("/functions/v1".length) || "/";
  for (const fn of functions) {
    if (fn.routes.some((r) => under(rest, "/" + r.replace(/^\/+|\/+$/g, "")))) return fn;
  }
  for (const fn of functions) if (under(rest, `/${fn.name}`)) return fn;
  return null;
}

function b64url(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** null when the HS256 token is valid and unexpired, else why not. */
export async function verifyJwt(token: string, secret: string): Promise<string | null> {
  const parts = token.split(".");
  if (parts.length !== 3) return "malformed token";
  try {
    const header = JSON.parse(new TextDecoder().decode(b64url(parts[0])));
    if (header.alg !== "HS256") return `unsupported alg ${header.alg}`;
    const key = await crypto.subtle.importKey(
      "raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"],
    );
    const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    if (!(await crypto.subtle.verify("HMAC", key, b64url(parts[2]), signed))) return "bad signature";
    const claims = JSON.parse(new TextDecoder().decode(b64url(parts[1])));
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) return "token expired";
    return null;
  } catch (e) {
    return `invalid token: ${(e as Error).message}`;
  }
}

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ message, ...fields }));
}

export class Edge {
  constructor(readonly spec: Spec, readonly modules: Record<string, Module>) {
    installEnv();
    for (const fn of spec.functions) {
      if (typeof modules[fn.name]?.fetch !== "function") throw new Error(`function ${fn.name}: its module has no default export with fetch()`);
    }
  }

  /** Call one function in its own view, within its timeout. */
  async call(fn: FunctionSpec, request: Request, lookup: Lookup): Promise<Response> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<Response>((resolve) => {
      timer = setTimeout(() => {
        log("function timed out", { function: fn.name, timeout_s: fn.timeout_s });
        resolve(Response.json({ error: `function ${fn.name} exceeded its timeout of ${fn.timeout_s}s` }, { status: 504 }));
      }, fn.timeout_s * 1000);
    });
    const run = views.run(view(this.spec, fn, lookup), async () => await this.modules[fn.name].fetch(request));
    try {
      return await Promise.race([run, expired]);
    } catch (e) {
      log("function failed", { function: fn.name, error: String(e) });
      return Response.json({ error: `function ${fn.name} failed` }, { status: 500 });
    } finally {
      clearTimeout(timer);
    }
  }

  async fetch(request: Request, lookup: Lookup): Promise<Response> {
    const url = new URL(request.url);
    const fn = route(this.spec.functions, url.pathname);
    if (!fn) return Response.json({ error: `no function serves ${url.pathname}` }, { status: 404 });
    if (this.spec.verify_jwt) {
      const secret = this.spec.jwt_secret ? lookup(this.spec.jwt_secret) : undefined;
      if (!secret) return Response.json({ error: "the JWT secret is not set on this platform" }, { status: 500 });
      const auth = request.headers.get("authorization") ?? "";
      const token = auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : "";
      const problem = token ? await verifyJwt(token, secret) : "missing Authorization: Bearer <JWT>";
      if (problem) return Response.json({ error: `unauthorized: ${problem}` }, { status: 401 });
    }
    return await this.call(fn, request, lookup);
  }

  /** Run every cron job on `schedule` (Workers passes the expression) or named `name` (Deno.cron's handler). */
  async cron(match: { schedule?: string; name?: string }, lookup: Lookup): Promise<void> {
    const jobs = this.spec.crons.filter((c) => c.schedule === match.schedule || c.name === match.name);
    if (jobs.length === 0) throw new Error(`no cron job for ${JSON.stringify(match)}`);
    const failed: string[] = [];
    for (const job of jobs) {
      const fn = this.spec.functions.find((f) => f.name === job.function)!;
      const request = new Request(`https://koyalite.invalid/functions/v1/${fn.name}`, {
        method: "POST",
        headers: { "user-agent": "koyalite-cron", "x-koyalite-cron": job.name },
      });
      const response = await this.call(fn, request, lookup);
      log("cron job ran", { cron: job.name, function: fn.name, status: response.status });
      if (response.status >= 400) failed.push(`${job.name}: ${response.status}`);
    }
    // the platform records a failed run (Workers' cron events, Deno Deploy's cron log)
    if (failed.length) throw new Error(`cron jobs failed: ${failed.join(", ")}`);
  }
}
