// Called weekly by the `weekly-digest` cron job: asks the Email service to send the digest.
export default {
  async fetch(_request: Request): Promise<Response> {
    const email = Deno.env.get("KOYALITE_EMAIL_URL") ?? "http://email:8400";
    const from = Deno.env.get("DIGEST_FROM") ?? "digest@example.com";
    const response = await fetch(`${email}/v1/digest`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ from, template: "weekly-digest" }),
    });
    return Response.json({ queued: response.ok }, { status: response.ok ? 202 : 502 });
  },
};
