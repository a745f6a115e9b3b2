// One edge function in its own Deno process (started by main.ts): imports the module given as the first argument,
// and serves its default export's `fetch(request)` on an ephemeral 127.0.0.1 port, announced on stdout as
// {"koyalite_worker_port": N} so that main.ts knows where to forward requests.

const specifier = Deno.args[0];
if (!specifier) {
  console.error("usage: worker.ts <module URL>");
  Deno.exit(64);
}

// main.ts holds our stdin open: when it goes away (even killed), so do we.
(async () => {
  try {
    for await (const _ of Deno.stdin.readable) {
      // nothing is sent; wait for end of file
    }
  } finally {
    Deno.exit(0);
  }
})();

type Handler = (request: Request) => Response | Promise<Response>;

let handler: Handler;
try {
  const mod = await import(specifier);
  const exported = mod.default;
  if (typeof exported === "function") {
    handler = exported as Handler;
  } else if (exported && typeof exported.fetch === "function") {
    handler = exported.fetch.bind(exported);
  } else {
    console.error(`${specifier}: the default export must be {fetch(request)} or a function(request)`);
    Deno.exit(65);
  }
} catch (e) {
  console.error(`${specifier}: failed to load: ${(e as Error).stack ?? e}`);
  Deno.exit(65);
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(JSON.stringify({ koyalite_worker_port: port })),
}, async (request) => {
  try {
    return await handler(request);
  } catch (e) {
    console.error(`unhandled error: ${(e as Error).stack ?? e}`);
    return Response.json({ error: `function error: ${(e as Error).message ?? e}` }, { status: 500 });
  }
});
