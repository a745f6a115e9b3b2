// KoyaLite edge runtime: the main service of koyalite/edge-runtime.
//
// Reads $KOYALITE_FUNCTIONS_FILE (written by the provisioner):
//   {"functions": [{"name", "module", "routes", "env", "secret_env", "timeout_s", "memory"}], "verify_jwt": bool}
// and serves, on $PORT (default 9000):
//   GET /_internal/health          -> {"message": "ok"}       (the health endpoint upstream's main service has)
//   GET /_internal/metric          -> per-function counters
//   ANY /functions/v1/<route>[/…]  -> the function whose routes contain /<route>
//   ANY /<function-name>[/…]       -> that function (what cron jobs call)
//   anything else                  -> 404
//
// Isolation: each function runs in its own Deno subprocess (worker.ts), started on its first request, with only its
// own environment (its `env`, its secrets from `secret_env`, and the project's KOYALITE_* configuration), read access
// to its own directory only, and V8's --max-old-space-size set from `memory`. A request that runs past `timeout_s`
// gets a 504 and the subprocess is killed (it may be stuck in a loop) and started again on the next request.
// Subprocesses rather than Workers because a Worker shares the process's heap limit and environment: neither
// `memory` nor per-function secrets could be enforced.

type FunctionSpec = {
  name: string;
  module: string;
  routes: string[];
  env: Record<string, string>;
  secret_env: Record<string, string>;
  timeout_s: number;
  memory: string | null;
};

type Config = { functions: FunctionSpec[]; verify_jwt: boolean };

const WORKER = new URL("./worker.ts", import.meta.url);
const START_TIMEOUT_MS = 30_000;

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), component: "edge-runtime", message, ...fields }));
}

function loadConfig(): Config {
  const file = Deno.env.get("KOYALITE_FUNCTIONS_FILE");
  if (file) {
    const raw = JSON.parse(Deno.readTextFileSync(file));
    if (!Array.isArray(raw.functions)) throw new Error(`${file}: "functions" must be a list`);
    return {
      verify_jwt: Boolean(raw.verify_jwt),
      functions: raw.functions.map((f: Partial<FunctionSpec>) => {
        if (!f.name || !f.module) throw new Error(`${file}: every function needs "name" and "module"`);
        return {
          name: f.name,
          module: f.module,
          routes: f.routes ?? [],
          env: f.env ?? {},
          secret_env: f.secret_env ?? {},
          timeout_s: f.timeout_s ?? 60,
          memory: f.memory ?? null,
        };
      }),
    };
  }
  // No configuration file: every /functions/<name>/index.ts is a function routed at /<name>.
  const dir = Deno.env.get("KOYALITE_FUNCTIONS_DIR") ?? "/functions";
  const functions: FunctionSpec[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    try {
      Deno.statSync(`${dir}/${entry.name}/index.ts`);
    } catch {
      continue;
    }
    functions.push({
      name: entry.name,
      module: `${dir}/${entry.name}/index.ts`,
      routes: [`/${entry.name}`],
      env: {},
      secret_env: {},
      timeout_s: 60,
      memory: null,
    });
  }
  return { functions, verify_jwt: false };
}

/** "150Mi" -> 150, "1Gi" -> 1024, "256M" -> 244, "512" (MiB) -> 512; null when unset. */
export function memoryMiB(memory: string | null): number | null {
  if (!memory) return null;
  const m = /^(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(String(memory).trim());
  if (!m) throw new Error(`memory ${JSON.stringify(memory)}: expected a quantity such as 150Mi`);
  const n = Number(m[1]);
  const factor: Record<string, number> = {
    Ki: 1 / 1024, Mi: 1, Gi: 1024, Ti: 1024 * 1024,
    K: 1e3 / 2 ** 20, M: 1e6 / 2 ** 20, G: 1e9 / 2 ** 20, T: 1e12 / 2 ** 20,
  };
  return Math.max(16, Math.floor(n * (m[2] ? factor[m[2]] : 1)));
}

/** The project configuration every function sees: KOYALITE_* minus the runtime's own and other functions' secrets. */
function sharedEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (k.startsWith("KOYALITE_FN_") || k.startsWith("KOYALITE_FUNCTIONS")) continue;
    if (k.startsWith("KOYALITE_") || k === "TZ" || k === "LANG") out[k] = v;
  }
  return out;
}

class FunctionProcess {
  #child: Deno.ChildProcess | null = null;
  #ready: Promise<number> | null = null;
  requests = 0;
  errors = 0;
  timeouts = 0;
  starts = 0;
  lastExit: string | null = null;

  constructor(readonly spec: FunctionSpec) {}

  get running(): boolean {
    return this.#child !== null;
  }

  env(): Record<string, string> {
    const env: Record<string, string> = {
      PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
      HOME: "/tmp",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? "/tmp/deno",
      DENO_NO_UPDATE_CHECK: "1",
      KOYALITE_FUNCTION: this.spec.name,
      ...sharedEnv(),
      ...this.spec.env,
    };
    for (const [name, holder] of Object.entries(this.spec.secret_env)) {
      const value = Deno.env.get(holder);
      if (value !== undefined) env[name] = value;
    }
    return env;
  }

  port(): Promise<number> {
    if (this.#ready) return this.#ready;
    const dir = this.spec.module.replace(/\/[^/]*$/, "") || "/";
    const args = [
      "run", "--no-config", "--no-lock", "--quiet", "--no-prompt",
      "--allow-net", "--allow-env", `--allow-read=${dir},${WORKER.pathname}`,
    ];
    const mib = memoryMiB(this.spec.memory);
    if (mib) args.push(`--v8-flags=--max-old-space-size=${mib}`);
    args.push(WORKER.pathname, new URL(`file://${this.spec.module}`).href);
    const child = new Deno.Command(Deno.execPath(), {
      args, env: this.env(), clearEnv: true, stdin: "piped", stdout: "piped", stderr: "piped", cwd: "/tmp",
    }).spawn();
    this.#child = child;
    this.starts++;
    log("function starting", { function: this.spec.name, memory_mib: mib, timeout_s: this.spec.timeout_s });
    let resolve!: (port: number) => void;
    let reject!: (e: Error) => void;
    const ready = new Promise<number>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const name = this.spec.name;
    const pump = async (stream: ReadableStream<Uint8Array>, stderr: boolean) => {
      let buffer = "";
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        buffer += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, i);
          buffer = buffer.slice(i + 1);
          const marker = /^\{"koyalite_worker_port":(\d+)\}$/.exec(line);
          if (marker && !stderr) resolve(Number(marker[1]));
          else (stderr ? console.error : console.log)(`[${name}] ${line}`);
        }
      }
      if (buffer) (stderr ? console.error : console.log)(`[${name}] ${buffer}`);
    };
    pump(child.stdout, false);
    pump(child.stderr, true);
    child.status.then((status) => {
      this.lastExit = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
      log("function exited", { function: name, exit: this.lastExit });
      reject(new Error(`function ${name} exited (${this.lastExit}) before it was ready`));
      if (this.#child === child) {
        this.#child = null;
        this.#ready = null;
      }
    });
    const timer = setTimeout(() => reject(new Error(`function ${name} did not start within ${START_TIMEOUT_MS} ms`)),
      START_TIMEOUT_MS);
    this.#ready = ready.finally(() => clearTimeout(timer));
    this.#ready.catch(() => this.kill());
    return this.#ready;
  }

  kill(): void {
    const child = this.#child;
    this.#child = null;
    this.#ready = null;
    if (child) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }

  async invoke(request: Request, url: URL): Promise<Response> {
    this.requests++;
    let port: number;
    try {
      port = await this.port();
    } catch (e) {
      this.errors++;
      return Response.json({ error: `function ${this.spec.name} failed to start: ${(e as Error).message}` },
        { status: 502 });
    }
    const headers = new Headers(request.headers);
    headers.set("x-forwarded-host", url.host);
    headers.set("x-forwarded-proto", url.protocol.replace(":", ""));
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.arrayBuffer();
    const signal = AbortSignal.timeout(this.spec.timeout_s * 1000);
    try {
      const response = await fetch(`http://127.0.0.1:${port}${url.pathname}${url.search}`, {
        method: request.method, headers, body, signal, redirect: "manual",
      });
      if (response.status >= 500) this.errors++;
      return new Response(response.body, { status: response.status, statusText: response.statusText,
        headers: response.headers });
    } catch (e) {
      this.errors++;
      if (signal.aborted) {
        this.timeouts++;
        log("function timed out: killed", { function: this.spec.name, timeout_s: this.spec.timeout_s });
        this.kill();
        return Response.json({ error: `function ${this.spec.name} exceeded its timeout of ${this.spec.timeout_s}s` },
          { status: 504 });
      }
      const exit = this.running ? "" : ` (exited: ${this.lastExit}; memory limit ${this.spec.memory ?? "none"})`;
      return Response.json({ error: `function ${this.spec.name} failed: ${(e as Error).message}${exit}` },
        { status: 502 });
    }
  }
}

// --- JWT (HS256), enforced when verify_jwt is true and the runtime has JWT_SECRET (JWT_SECRET_FILE) ------------

function b64urlDecode(s: string): Uint8Array<ArrayBuffer> {
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(s.length / 4) * 4, "=");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

async function verifyJwt(token: string, secret: string): Promise<string | null> {
  const parts = token.split(".");
  if (parts.length !== 3) return "malformed token";
  try {
    const header = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[0])));
    if (header.alg !== "HS256") return `unsupported alg ${header.alg}`;
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" },
      false, ["verify"]);
    const ok = await crypto.subtle.verify("HMAC", key, b64urlDecode(parts[2]),
      new TextEncoder().encode(`${parts[0]}.${parts[1]}`));
    if (!ok) return "bad signature";
    const claims = JSON.parse(new TextDecoder().decode(b64urlDecode(parts[1])));
    if (typeof claims.exp === "number" && claims.exp * 1000 < Date.now()) return "token expired";
    return null;
  } catch (e) {
    return `invalid token: ${(e as Error).message}`;
  }
}

// --- routing ---------------------------------------------------------------------------------------------------

export function route(functions: FunctionSpec[], pathname: string): FunctionSpec | null {
  const under = (path: string, prefix: string) => path === prefix || path.startsWith(prefix + "/");
  if (under(pathname, "/functions/v1")) {
    const rest = pathname.slice("/functions/v1".length) || "/";
    for (const fn of functions) {
      if (fn.routes.some((r) => under(rest, "/" + r.replace(/^\/+|\/+$/g, "")))) return fn;
    }
    for (const fn of functions) if (under(rest, `/${fn.name}`)) return fn;
    return null;
  }
  for (const fn of functions) if (under(pathname, `/${fn.name}`)) return fn;
  return null;
}

if (import.meta.main) {
  const config = loadConfig();
  const processes = new Map(config.functions.map((f) => [f.name, new FunctionProcess(f)]));
  const jwtSecret = Deno.env.get("JWT_SECRET") ?? "";
  for (const fn of config.functions) {
    memoryMiB(fn.memory); // fail at start on a bad quantity
    for (const [name, holder] of Object.entries(fn.secret_env)) {
      if (Deno.env.get(holder) === undefined) {
        log("secret not provided: the function will run without it", { function: fn.name, env: name, holder });
      }
    }
  }
  if (config.verify_jwt && !jwtSecret) {
    log("verify_jwt is on but JWT_SECRET is not set: JWTs are NOT verified", { level: "warning" });
  }
  const port = Number(Deno.env.get("PORT") ?? "9000");
  // PID 1 in its container: without handlers SIGTERM would be ignored and `docker stop` would wait 10 s.
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => {
      for (const p of processes.values()) p.kill();
      Deno.exit(0);
    });
  }
  log("edge runtime listening", { port, functions: config.functions.map((f) => f.name), verify_jwt: config.verify_jwt });

  Deno.serve({ hostname: "0.0.0.0", port, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/_internal/health") return Response.json({ message: "ok" });
    if (url.pathname === "/_internal/metric") {
      return Response.json({
        functions: [...processes.values()].map((p) => ({
          name: p.spec.name, running: p.running, starts: p.starts, requests: p.requests, errors: p.errors,
          timeouts: p.timeouts,
        })),
        verify_jwt: config.verify_jwt, jwt_enforced: config.verify_jwt && Boolean(jwtSecret),
      });
    }
    const fn = route(config.functions, url.pathname);
    if (!fn) return Response.json({ error: `no function serves ${url.pathname}` }, { status: 404 });
    if (config.verify_jwt && jwtSecret) {
      const auth = request.headers.get("authorization") ?? "";
      const token = auth.toLowerCase().startsWith("bearer ") ? auth.slice(7).trim() : "";
      const problem = token ? await verifyJwt(token, jwtSecret) : "missing Authorization: Bearer <JWT>";
      if (problem) return Response.json({ error: `unauthorized: ${problem}` }, { status: 401 });
    }
    return processes.get(fn.name)!.invoke(request, url);
  });
}
