// Test function: tells the project's API (a recorder in the tests) it ran, with the secret it was given.
export default {
  async fetch(request: Request): Promise<Response> {
    const api = Deno.env.get("KOYALITE_API_URL");
    const response = await fetch(`${api}/ping`, {
      method: "POST",
      headers: { authorization: `Bearer ${Deno.env.get("SERVICE_ROLE_KEY")}`, "content-type": "application/json" },
      body: JSON.stringify({ cron: request.headers.get("x-koyalite-cron"), environment: Deno.env.get("KOYALITE_ENVIRONMENT") }),
    });
    return Response.json({ pinged: response.status }, { status: response.ok ? 200 : 502 });
  },
};
