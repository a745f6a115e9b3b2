// Test function: answers the environment it sees (the secret's length only: its value never leaves it).
export default {
  fetch(_request: Request): Response {
    const env = Deno.env.toObject();
    return Response.json({
      names: Object.keys(env).sort(),
      GREETING: env.GREETING ?? null,
      KOYALITE_API_URL: env.KOYALITE_API_URL ?? null,
      secret_length: env.SERVICE_ROLE_KEY?.length ?? null,
    });
  },
};
