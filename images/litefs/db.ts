// koyalite-db: the database gateway LiteFS runs (`exec:` in litefs.yml) once the node is primary or in sync.
//
//   koyalite-db --listen :8081 --db /litefs/koyalite.db
//
//   POST /sql  {"sql": "...", "params": [...] | {...}}   one statement, read-write      -> {"rows": [...], ...}
//   POST /sql  {"script": "...; ...;"}                  several statements, no rows
//   GET  /sql?q=SELECT…&params=[json]                   one statement on a read-only connection
//   GET  /health                                        -> {"status": "ok", "primary": bool, ...}
//
// Writes use a non-GET method on purpose: LiteFS's proxy (:8080) serves GET/HEAD from the local replica (waiting
// for the client's last-seen TXID cookie) and sends every other method to the primary's gateway.
// SQLite is Deno's built-in `node:sqlite`. A connection is opened per request, so a replica always reads the pages
// LiteFS has just replicated.

import { DatabaseSync } from "node:sqlite";

function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  if (i >= 0 && i + 1 < Deno.args.length) return Deno.args[i + 1];
  const eq = Deno.args.find((a) => a.startsWith(`${name}=`));
  return eq ? eq.slice(name.length + 1) : fallback;
}

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log("usage: koyalite-db --listen [HOST]:PORT --db PATH");
  Deno.exit(0);
}

const listen = arg("--listen", ":8081");
const dbPath = arg("--db", "/litefs/koyalite.db");
const [host, portText] = listen.includes(":") ? [listen.slice(0, listen.lastIndexOf(":")), listen.slice(listen.lastIndexOf(":") + 1)] : ["", listen];
const port = Number(portText);
if (!Number.isInteger(port) || port <= 0) {
  console.error(`koyalite-db: --listen ${listen}: expected [HOST]:PORT`);
  Deno.exit(64);
}
const mountDir = dbPath.replace(/\/[^/]*$/, "") || "/";

/** LiteFS writes `.primary` into the mount on replicas only: the primary's hostname ("" when the lease names none). */
function primaryHost(): string | null {
  try {
    return Deno.readTextFileSync(`${mountDir}/.primary`).trim() || "(primary without a hostname)";
  } catch {
    return null;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function jsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return { $base64: btoa(String.fromCharCode(...v)) };
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

function rowsOf(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, jsonValue(v)])));
}

type Params = unknown[] | Record<string, unknown>;

function open(readOnly: boolean): DatabaseSync {
  const db = new DatabaseSync(dbPath, { readOnly });
  db.exec("PRAGMA busy_timeout = 5000");
  return db;
}

function execute(readOnly: boolean, sql: string, params: Params): Record<string, unknown> {
  const db = open(readOnly);
  try {
    const stmt = db.prepare(sql);
    // deno-lint-ignore no-explicit-any
    const rows = Array.isArray(params) ? stmt.all(...(params as any[])) : stmt.all(params as any);
    const out: Record<string, unknown> = { rows: rowsOf(rows as Record<string, unknown>[]) };
    if (!readOnly) {
      const meta = db.prepare("SELECT changes() AS changes, last_insert_rowid() AS last_insert_rowid").get() as
        Record<string, unknown>;
      out.changes = jsonValue(meta.changes);
      out.last_insert_rowid = jsonValue(meta.last_insert_rowid);
    }
    return out;
  } finally {
    db.close();
  }
}

function error(status: number, message: string, extra: Record<string, unknown> = {}): Response {
  return Response.json({ error: message, ...extra }, { status });
}

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const primary = primaryHost();
  const node = { primary: primary === null, primary_host: primary ?? Deno.hostname() };
  if (url.pathname === "/health" || url.pathname === "/") {
    return Response.json({ status: "ok", db: dbPath, exists: exists(dbPath), ...node });
  }
  if (url.pathname !== "/sql") return error(404, `no route ${url.pathname}; use /sql or /health`);
  try {
    if (request.method === "GET" || request.method === "HEAD") {
      const sql = url.searchParams.get("q") ?? url.searchParams.get("sql");
      if (!sql) return error(400, "GET /sql needs ?q=<SQL statement>");
      const params = JSON.parse(url.searchParams.get("params") ?? "[]");
      if (!exists(dbPath)) return error(503, `database ${dbPath} does not exist yet on this node`, node);
      return Response.json({ ...execute(true, sql, params), ...node });
    }
    if (request.method !== "POST") return error(405, "use GET /sql?q=… to read or POST /sql to write");
    if (primary !== null) {
      return error(409, `this node is a read replica: writes go to the primary (${primary}) through LiteFS's proxy`,
        node);
    }
    const body = await request.json().catch(() => null);
    if (!body || typeof body !== "object") return error(400, 'POST /sql needs a JSON body {"sql": "...", "params": []}');
    if (typeof body.script === "string") {
      const db = open(false);
      try {
        db.exec(body.script);
      } finally {
        db.close();
      }
      return Response.json({ rows: [], ...node });
    }
    if (typeof body.sql !== "string") return error(400, 'POST /sql: "sql" must be a string');
    return Response.json({ ...execute(false, body.sql, body.params ?? []), ...node });
  } catch (e) {
    const message = (e as Error).message ?? String(e);
    return error(/readonly|read-only/i.test(message) ? 409 : 400, message, node);
  }
}

// PID 1 in a container ignores SIGTERM without a handler.
for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
console.log(JSON.stringify({ component: "koyalite-db", message: "listening", listen, db: dbPath,
  primary: primaryHost() === null }));
Deno.serve({ hostname: host || "0.0.0.0", port, onListen: () => {} }, handle);
