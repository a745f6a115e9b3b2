// Test function: answers after 5 s, past the 1 s timeout the tests give it.
export default {
  async fetch(_request: Request): Promise<Response> {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    return new Response("too late");
  },
};
