// GET /functions/v1/hello?name=Ada -> {"message": "hello, Ada"}
export default {
  fetch(request: Request): Response {
    const name = new URL(request.url).searchParams.get("name") ?? "world";
    return Response.json({ message: `hello, ${name}` });
  },
};
