// graphql-http's GraphQL-over-HTTP server audits against a running server, signed in with a token.
// Usage: node audit.mjs <url> <token>; prints {"ok": n, "warn": n, "error": n, "problems": [...]}.
import { serverAudits } from "graphql-http";

const [url, token] = process.argv.slice(2);

function signedFetch(input, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return fetch(input, { ...init, headers });
}

const results = await Promise.all(serverAudits({ url, fetchFn: signedFetch }).map(({ fn }) => fn()));
const count = (status) => results.filter((r) => r.status === status).length;
const problems = results
  .filter((r) => r.status !== "ok")
  .map((r) => ({ id: r.id, name: r.name, status: r.status, reason: r.reason }));
console.log(JSON.stringify({ ok: count("ok"), warn: count("warn"), error: count("error"), problems }));
