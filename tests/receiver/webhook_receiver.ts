// A webhook receiver for the event bus tests (tests/test_events.py): it records every delivery and answers as told.
//
//   POST /hooks/<name>   a delivery: recorded (time, headers, body, whether its signature is valid), then answered
//                        500 while `fail` > 0 (counting down), or 500 for every `fail_every`-th request, after
//                        `delay_s`; otherwise 200
//   POST /control        {"fail": N, "fail_every": K, "delay_s": S}: how the next deliveries are answered
//   GET  /received       every delivery so far, in arrival order
//
// The signature is checked as a receiver should: HMAC-SHA256 of "<X-Koyalite-Timestamp>.<body>" with $SECRET.

const secret = Deno.env.get("SECRET") ?? "";
const encoder = new TextEncoder();
const received: Record<string, unknown>[] = [];
const control = { fail: 0, fail_every: 0, delay_s: 0 };
let count = 0;

async function valid(signature: string | null, timestamp: string | null, body: Uint8Array): Promise<boolean> {
  if (!signature?.startsWith("sha256=") || !timestamp) return false;
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new Uint8Array([...encoder.encode(`${timestamp}.`), ...body])));
  return signature.slice(7) === Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.serve({ hostname: "0.0.0.0", port: Number(Deno.env.get("PORT") ?? "9999") }, async (request) => {
  const path = new URL(request.url).pathname;
  if (path === "/received") return Response.json(received);
  if (path === "/control" && request.method === "POST") {
    Object.assign(control, await request.json());
    return Response.json(control);
  }
  if (!path.startsWith("/hooks/") || request.method !== "POST") return new Response("not found", { status: 404 });
  const body = new Uint8Array(await request.arrayBuffer());
  count++;
  const failing = control.fail > 0 || (control.fail_every > 0 && count % control.fail_every === 0);
  if (control.fail > 0) control.fail--;
  const h = request.headers;
  const entry: Record<string, unknown> = {
    at: Date.now() / 1000,
    hook: path.slice(7),
    event: h.get("x-koyalite-event"),
    delivery: h.get("x-koyalite-delivery"),
    attempt: Number(h.get("x-koyalite-attempt")),
    signed: await valid(h.get("x-koyalite-signature"), h.get("x-koyalite-timestamp"), body),
    body: new TextDecoder().decode(body),
    status: failing ? 500 : 200,
    answered: false,
  };
  received.push(entry);
  if (control.delay_s > 0) await new Promise((r) => setTimeout(r, control.delay_s * 1000));
  entry.answered = true;
  return new Response(failing ? "failing as told" : "ok", { status: entry.status as number });
});
