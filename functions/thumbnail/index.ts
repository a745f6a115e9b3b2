// POST /functions/v1/thumbnail with {"bucket": "...", "key": "..."}: answers where the thumbnail will be written.
export default {
  async fetch(request: Request): Promise<Response> {
    if (request.method !== "POST") {
      return new Response("method not allowed", { status: 405 });
    }
    const { bucket, key } = await request.json();
    if (typeof bucket !== "string" || typeof key !== "string") {
      return Response.json({ error: "bucket and key are required strings" }, { status: 400 });
    }
    return Response.json({ source: `${bucket}/${key}`, thumbnail: `${bucket}/thumbnails/${key}` }, { status: 202 });
  },
};
