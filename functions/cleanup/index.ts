// Called nightly by the `nightly-cleanup` cron job: deletes expired sessions through the API.
export default {
  async fetch(_request: Request): Promise<Response> {
    const api = Deno.env.get("KOYALITE_API_URL") ?? "http://api:8000";
    const key = Deno.env.get("SERVICE_ROLE_KEY");
    if (!key) {
      return Response.json({ error: "SERVICE_ROLE_KEY is not set" }, { status: 500 });
    }
    const response = await fetch(`${api}/rest/v1/sessions?expires_at=lt.now()`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${key}` },
    });
    return Response.json({ deleted: response.ok }, { status: response.ok ? 200 : 502 });
  },
};
