// PostGraphile v4 (with @graphile/pg-aggregates for the column totals) over dealflow's database,
// the peer bench/board.py measures dealflow's board against.
//
//   node server.js DSN PORT
//
// Served like the Python servers: one process, POST /graphql with the same bearer token, checked
// against api_tokens with one statement per request as dealflow and the raw endpoint do; GET
// /healthz once the schema is built; GET /_bench/gc the time V8 spent in garbage collection.
"use strict";

const crypto = require("crypto");
const http = require("http");
const { PerformanceObserver } = require("perf_hooks");
const { Pool } = require("pg");
const { postgraphile } = require("postgraphile");
const PgAggregatesPlugin = require("@graphile/pg-aggregates").default;

const [dsn, port] = process.argv.slice(2);
if (!dsn || !port) {
  console.error("usage: node server.js DSN PORT");
  process.exit(2);
}

const gc = { seconds: 0, collections: [0, 0, 0] };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.seconds += entry.duration / 1000;
    gc.collections[0] += 1;
  }
}).observe({ entryTypes: ["gc"] });

const pool = new Pool({ connectionString: dsn, max: 20 }); // dealflow's default DATABASE_POOL_SIZE
const graphql = postgraphile(pool, "public", {
  appendPlugins: [PgAggregatesPlugin],
  graphiql: false,
  disableQueryLog: true,
  watchPg: false,
  retryOnInitFail: false,
  setofFunctionsContainNulls: false,
  dynamicJson: true,
  legacyRelations: "omit",
  disableDefaultMutations: true,
  enableQueryBatching: false,
});

// The viewer lookup dealflow runs for a token (db/users.py VIEWER_SELECT), teammates included.
const VIEWER = `
  SELECT u.id, u.view_scope, t.id AS token_id,
         ARRAY(SELECT DISTINCT other.user_id
                 FROM team_members mine JOIN team_members other ON other.team_id = mine.team_id
                WHERE mine.user_id = u.id) AS teammate_ids
    FROM api_tokens t JOIN users u ON u.id = t.user_id
   WHERE t.revoked_at IS NULL AND u.active AND (t.expires_at IS NULL OR t.expires_at > now())
     AND t.token_hash = $1`;

async function authenticated(req) {
  const header = req.headers.authorization || "";
  const [scheme, token] = header.trim().split(/\s+/, 2);
  if (!token || scheme.toLowerCase() !== "bearer") return false;
  const hash = crypto.createHash("sha256").update(token).digest();
  const { rows } = await pool.query(VIEWER, [hash]);
  return rows.length === 1;
}

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (req.method === "GET" && path === "/healthz") {
    graphql.getGraphQLSchema().then(
      () => json(res, 200, { status: "ok" }),
      (error) => json(res, 503, { status: String(error) }),
    );
    return;
  }
  if (req.method === "GET" && path === "/_bench/gc") {
    json(res, 200, gc);
    return;
  }
  if (path !== "/graphql") {
    json(res, 404, { errors: [{ message: "not found" }] });
    return;
  }
  authenticated(req).then(
    (ok) => (ok ? graphql(req, res) : json(res, 401, { errors: [{ message: "unauthenticated" }] })),
    (error) => json(res, 500, { errors: [{ message: String(error) }] }),
  );
});
server.keepAliveTimeout = 65_000;
server.listen(Number(port), "127.0.0.1");

function stop() {
  server.close();
  pool.end().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
