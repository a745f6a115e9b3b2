// STAND-IN for Weaviate 1.38.2, used only when Weaviate cannot be built from source here (the image then carries the
// label koyalite.dev/stand-in=true). It is NOT a vector database: no ANN index, no modules, no cluster. It keeps the
// surface the provisioner's wiring relies on, with Weaviate's paths, ports, auth and persistence:
//
//   :8080  GET /v1/.well-known/ready|live (no auth), GET /v1/meta, GET|POST /v1/schema, GET|DELETE /v1/schema/{class},
//          GET|POST /v1/objects, GET|HEAD|PUT|PATCH|DELETE /v1/objects/{class}/{id}, POST /v1/graphql
//          (Get { Class(where:{path,operator,value*}|{operator:And|Or,operands}, limit, offset) { props _additional{id} } })
//   :50051 a TCP listener (gRPC's port is open; no gRPC service is implemented)
//   auth:  AUTHENTICATION_APIKEY_ENABLED=true + AUTHENTICATION_APIKEY_ALLOWED_KEYS (comma separated; Bearer <key>);
//          anonymous requests are refused when AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED=false
//   data:  $PERSISTENCE_DATA_PATH/stand-in/{schema.json, objects/<class>/<id>.json}, written atomically
//
// Command line as Weaviate's: --host, --port, --scheme are accepted.

const env = Deno.env.toObject();
function arg(name: string, fallback: string): string {
  const i = Deno.args.indexOf(name);
  if (i >= 0 && i + 1 < Deno.args.length) return Deno.args[i + 1];
  return Deno.args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? fallback;
}
const host = arg("--host", "0.0.0.0");
const port = Number(arg("--port", "8080"));
const grpcPort = Number(env.GRPC_PORT ?? "50051");
const dataDir = `${env.PERSISTENCE_DATA_PATH ?? "/var/lib/weaviate"}/stand-in`;
const apiKeyEnabled = (env.AUTHENTICATION_APIKEY_ENABLED ?? "false").toLowerCase() === "true";
const anonymousEnabled = (env.AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED ?? "true").toLowerCase() === "true";
const keys = new Set((env.AUTHENTICATION_APIKEY_ALLOWED_KEYS ?? "").split(",").map((k) => k.trim()).filter(Boolean));

function log(message: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), component: "weaviate-stand-in", message, ...fields }));
}

if (apiKeyEnabled && keys.size === 0) {
  log("AUTHENTICATION_APIKEY_ENABLED=true but AUTHENTICATION_APIKEY_ALLOWED_KEYS is empty", { level: "fatal" });
  Deno.exit(78);
}

type Property = { name: string; dataType: string[]; [k: string]: unknown };
type ClassDef = { class: string; properties: Property[]; vectorizer?: string; [k: string]: unknown };
type WObject = {
  class: string;
  id: string;
  properties: Record<string, unknown>;
  vector?: number[];
  creationTimeUnix: number;
  lastUpdateTimeUnix: number;
};

Deno.mkdirSync(`${dataDir}/objects`, { recursive: true });

function writeAtomic(path: string, data: unknown): void {
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  Deno.writeTextFileSync(tmp, JSON.stringify(data));
  Deno.renameSync(tmp, path);
}

function readJson<T>(path: string, fallback: T): T {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return fallback;
    throw e;
  }
}

const schema: { classes: ClassDef[] } = readJson(`${dataDir}/schema.json`, { classes: [] });
const objects = new Map<string, Map<string, WObject>>();
for (const c of schema.classes) {
  const byId = new Map<string, WObject>();
  try {
    for (const entry of Deno.readDirSync(`${dataDir}/objects/${c.class}`)) {
      if (!entry.name.endsWith(".json")) continue;
      const o = readJson<WObject | null>(`${dataDir}/objects/${c.class}/${entry.name}`, null);
      if (o) byId.set(o.id, o);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  objects.set(c.class, byId);
}
log("loaded", { classes: schema.classes.length, objects: [...objects.values()].reduce((n, m) => n + m.size, 0) });

const saveSchema = () => writeAtomic(`${dataDir}/schema.json`, schema);
function saveObject(o: WObject): void {
  Deno.mkdirSync(`${dataDir}/objects/${o.class}`, { recursive: true });
  writeAtomic(`${dataDir}/objects/${o.class}/${o.id}.json`, o);
}

const err = (status: number, message: string) => Response.json({ error: [{ message }] }, { status });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const classOf = (name: string) => schema.classes.find((c) => c.class.toLowerCase() === name.toLowerCase());

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function authorize(request: Request): Response | null {
  const auth = request.headers.get("authorization") ?? "";
  if (!auth) {
    if (anonymousEnabled) return null;
    return Response.json({ code: 401, message: "anonymous access not enabled, please provide an auth scheme such as OIDC" },
      { status: 401 });
  }
  const token = auth.replace(/^bearer\s+/i, "").trim();
  if (apiKeyEnabled && keys.has(token)) return null;
  return Response.json({ code: 401, message: "unauthorized: invalid api key" }, { status: 401 });
}

function objectOut(o: WObject) {
  return { class: o.class, id: o.id, properties: o.properties, vector: o.vector, creationTimeUnix: o.creationTimeUnix,
    lastUpdateTimeUnix: o.lastUpdateTimeUnix };
}

function upsert(body: Record<string, unknown>, id: string | null, replace: boolean, merge = false): Response {
  const cls = classOf(String(body.class ?? ""));
  if (!cls) return err(422, `class ${JSON.stringify(body.class)} does not exist in the schema`);
  const oid = String(id ?? body.id ?? crypto.randomUUID()).toLowerCase();
  if (!UUID.test(oid)) return err(422, `id ${oid} is not a UUID`);
  const byId = objects.get(cls.class)!;
  const existing = byId.get(oid);
  if (!replace && existing) return err(422, `id '${oid}' already exists`);
  if (replace && !existing && merge) return err(404, `object ${oid} not found`);
  const now = Date.now();
  const props = merge && existing ? { ...existing.properties, ...(body.properties as object ?? {}) }
    : (body.properties as Record<string, unknown> ?? {});
  for (const name of Object.keys(props)) {
    if (!cls.properties.some((p) => p.name === name)) {
      // Weaviate's auto-schema adds the property; do the same with a guessed type.
      const v = props[name];
      cls.properties.push({ name, dataType: [typeof v === "number" ? "number" : typeof v === "boolean" ? "boolean" : "text"] });
      saveSchema();
    }
  }
  const o: WObject = {
    class: cls.class, id: oid, properties: props,
    vector: (body.vector as number[] | undefined) ?? existing?.vector,
    creationTimeUnix: existing?.creationTimeUnix ?? now, lastUpdateTimeUnix: now,
  };
  byId.set(oid, o);
  saveObject(o);
  return Response.json(objectOut(o));
}

// --- GraphQL (a small subset: queries of fields with arguments) ------------------------------------------------

type GValue = string | number | boolean | null | GValue[] | { [k: string]: GValue } | { enum: string };
type GField = { name: string; args: Record<string, GValue>; selections: GField[] };

function parseGraphQL(text: string): GField[] {
  const tokens = text.match(/"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|[{}()[\]:,!$@.]|\.\.\./g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const expect = (t: string) => {
    if (tokens[i] !== t) throw new Error(`GraphQL: expected ${t} at token ${i} (${tokens[i] ?? "end"})`);
    i++;
  };
  const value = (): GValue => {
    const t = next();
    if (t === undefined) throw new Error("GraphQL: unexpected end");
    if (t.startsWith('"')) return JSON.parse(t);
    if (/^-?\d/.test(t)) return Number(t);
    if (t === "true" || t === "false") return t === "true";
    if (t === "null") return null;
    if (t === "[") {
      const list: GValue[] = [];
      while (peek() !== "]") {
        list.push(value());
        if (peek() === ",") next();
      }
      expect("]");
      return list;
    }
    if (t === "{") {
      const obj: Record<string, GValue> = {};
      while (peek() !== "}") {
        const k = next();
        expect(":");
        obj[k] = value();
        if (peek() === ",") next();
      }
      expect("}");
      return obj;
    }
    return { enum: t };
  };
  const selectionSet = (): GField[] => {
    expect("{");
    const fields: GField[] = [];
    while (peek() !== "}") {
      const name = next();
      const args: Record<string, GValue> = {};
      if (peek() === "(") {
        next();
        while (peek() !== ")") {
          const k = next();
          expect(":");
          args[k] = value();
          if (peek() === ",") next();
        }
        expect(")");
      }
      fields.push({ name, args, selections: peek() === "{" ? selectionSet() : [] });
      if (peek() === ",") next();
    }
    expect("}");
    return fields;
  };
  if (peek() === "query") {
    next();
    if (peek() !== "{") next();
  }
  return selectionSet();
}

const enumOf = (v: GValue) => (v && typeof v === "object" && "enum" in v ? (v as { enum: string }).enum : String(v));

function matchesWhere(o: WObject, where: Record<string, GValue>): boolean {
  const op = enumOf(where.operator);
  if (op === "And" || op === "Or") {
    const operands = (where.operands as Record<string, GValue>[]) ?? [];
    return op === "And" ? operands.every((w) => matchesWhere(o, w)) : operands.some((w) => matchesWhere(o, w));
  }
  const path = (where.path as string[]) ?? [];
  const actual = path[0] === "id" ? o.id : o.properties[path[0]];
  const key = Object.keys(where).find((k) => k.startsWith("value"));
  const expected = key ? where[key] : undefined;
  switch (op) {
    case "Equal":
      return Array.isArray(actual) ? actual.includes(expected) : actual === expected;
    case "NotEqual":
      return actual !== expected;
    case "GreaterThan":
      return (actual as number) > (expected as number);
    case "GreaterThanEqual":
      return (actual as number) >= (expected as number);
    case "LessThan":
      return (actual as number) < (expected as number);
    case "LessThanEqual":
      return (actual as number) <= (expected as number);
    case "Like": {
      const re = new RegExp(`^${String(expected).replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
      return re.test(String(actual ?? ""));
    }
    case "IsNull":
      return (actual === undefined || actual === null) === Boolean(expected);
    default:
      throw new Error(`where operator ${op} is not supported by the stand-in`);
  }
}

function graphql(query: string): Response {
  let root: GField[];
  try {
    root = parseGraphQL(query);
  } catch (e) {
    return Response.json({ errors: [{ message: (e as Error).message }] });
  }
  const data: Record<string, unknown> = {};
  const errors: { message: string }[] = [];
  for (const top of root) {
    if (top.name === "Get") {
      const get: Record<string, unknown> = {};
      for (const f of top.selections) {
        const cls = classOf(f.name);
        if (!cls) {
          errors.push({ message: `Cannot query field "${f.name}" on type "GetObjectsObj".` });
          continue;
        }
        try {
          let list = [...objects.get(cls.class)!.values()].sort((a, b) => a.creationTimeUnix - b.creationTimeUnix);
          if (f.args.where) list = list.filter((o) => matchesWhere(o, f.args.where as Record<string, GValue>));
          const offset = Number(f.args.offset ?? 0);
          const limit = Number(f.args.limit ?? env.QUERY_DEFAULTS_LIMIT ?? 100);
          get[cls.class] = list.slice(offset, offset + limit).map((o) => {
            const row: Record<string, unknown> = {};
            for (const s of f.selections) {
              if (s.name === "_additional") {
                row._additional = Object.fromEntries(s.selections.map((a) =>
                  [a.name, a.name === "id" ? o.id : a.name === "vector" ? o.vector ?? null : null]
                ));
              } else row[s.name] = o.properties[s.name] ?? null;
            }
            return row;
          });
        } catch (e) {
          errors.push({ message: (e as Error).message });
        }
      }
      data.Get = get;
    } else if (top.name === "Aggregate") {
      const agg: Record<string, unknown> = {};
      for (const f of top.selections) {
        const cls = classOf(f.name);
        if (cls) agg[cls.class] = [{ meta: { count: objects.get(cls.class)!.size } }];
      }
      data.Aggregate = agg;
    } else {
      errors.push({ message: `${top.name} is not supported by the Weaviate stand-in` });
    }
  }
  return Response.json(errors.length ? { data, errors } : { data });
}

async function handle(request: Request): Promise<Response> {
  const url = new URL(request.url);
  const p = url.pathname.replace(/\/+$/, "") || "/";
  if (p === "/v1/.well-known/ready" || p === "/v1/.well-known/live") return new Response(null, { status: 200 });
  if (p === "/v1/.well-known/openid-configuration") return err(404, "no OIDC configured");
  const denied = authorize(request);
  if (denied) return denied;
  const method = request.method;
  const body = method === "POST" || method === "PUT" || method === "PATCH"
    ? await request.json().catch(() => null) as Record<string, unknown> | null
    : null;
  if ((method === "POST" || method === "PUT" || method === "PATCH") && !body) return err(400, "a JSON body is required");

  if (p === "/v1/meta" && method === "GET") {
    return Response.json({ hostname: `http://${host}:${port}`, version: "1.38.2", modules: {}, standIn: true });
  }
  if (p === "/v1/schema") {
    if (method === "GET") return Response.json(schema);
    if (method === "POST") {
      const name = capitalize(String(body!.class ?? ""));
      if (!/^[A-Z][A-Za-z0-9_]*$/.test(name)) return err(422, `class name ${JSON.stringify(body!.class)} is not valid`);
      if (classOf(name)) return err(422, `class name ${name} already exists`);
      const cls: ClassDef = { ...body!, class: name, properties: (body!.properties as Property[]) ?? [] };
      schema.classes.push(cls);
      objects.set(name, new Map());
      saveSchema();
      return Response.json(cls);
    }
  }
  let m = /^\/v1\/schema\/([A-Za-z0-9_]+)$/.exec(p);
  if (m) {
    const cls = classOf(m[1]);
    if (method === "GET") return cls ? Response.json(cls) : err(404, `class ${m[1]} not found`);
    if (method === "DELETE") {
      if (cls) {
        schema.classes = schema.classes.filter((c) => c !== cls);
        objects.delete(cls.class);
        saveSchema();
        try {
          Deno.removeSync(`${dataDir}/objects/${cls.class}`, { recursive: true });
        } catch {
          // no objects were ever written
        }
      }
      return new Response(null, { status: 200 });
    }
  }
  if (p === "/v1/objects") {
    if (method === "POST") return upsert(body!, null, false);
    if (method === "GET") {
      const cls = url.searchParams.get("class");
      const limit = Number(url.searchParams.get("limit") ?? "25");
      const all = [...objects.entries()].filter(([c]) => !cls || c.toLowerCase() === cls.toLowerCase())
        .flatMap(([, byId]) => [...byId.values()]);
      return Response.json({ objects: all.slice(0, limit).map(objectOut), totalResults: all.length });
    }
  }
  m = /^\/v1\/objects\/(?:([A-Za-z0-9_]+)\/)?([0-9a-fA-F-]{36})$/.exec(p);
  if (m) {
    const id = m[2].toLowerCase();
    const found = m[1]
      ? objects.get(classOf(m[1])?.class ?? "")?.get(id)
      : [...objects.values()].map((byId) => byId.get(id)).find(Boolean);
    if (method === "GET" || method === "HEAD") {
      if (!found) return new Response(null, { status: 404 });
      return method === "HEAD" ? new Response(null, { status: 204 }) : Response.json(objectOut(found));
    }
    if (method === "PUT") {
      if (!found) return new Response(null, { status: 404 });
      return upsert({ ...body!, class: m[1] ?? body!.class }, id, true);
    }
    if (method === "PATCH") {
      if (!found) return new Response(null, { status: 404 });
      const r = upsert({ ...body!, class: found.class }, id, true, true);
      return r.status === 200 ? new Response(null, { status: 204 }) : r;
    }
    if (method === "DELETE") {
      if (!found) return new Response(null, { status: 404 });
      objects.get(found.class)!.delete(id);
      Deno.removeSync(`${dataDir}/objects/${found.class}/${id}.json`);
      return new Response(null, { status: 204 });
    }
  }
  if (p === "/v1/graphql" && method === "POST") return graphql(String(body!.query ?? ""));
  return err(404, `the Weaviate stand-in has no route ${method} ${p}`);
}

// gRPC's port: accept and close (enough for "is it open?" checks; no gRPC service is implemented).
(async () => {
  const listener = Deno.listen({ hostname: host, port: grpcPort });
  for await (const conn of listener) conn.close();
})();

// PID 1 in a container ignores SIGTERM without a handler.
for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
log("listening", { host, port, grpc_port: grpcPort, api_key_auth: apiKeyEnabled, anonymous: anonymousEnabled, dataDir });
Deno.serve({ hostname: host, port, onListen: () => {} }, handle);
