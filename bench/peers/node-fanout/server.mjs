// The reference server of bench/fanout.py: graphql 16 + graphql-ws + ws, an in-memory PubSub.
//
//   node server.mjs --port PORT --data DATA.json
//
// DATA.json (written by bench/fanout.py from its database): {"pipelineId", "stages": [{id, label}],
// "users": [{id, name}], "deals": [{id, name, amount, stageId, ownerId}], "sequence"}. It serves the
// slice of dealflow's schema the benchmark uses: `moveDeal(input: {dealId, stageId})` over POST
// /graphql publishes a `deal.moved` event, and `boardChanged(pipelineId)` streams a pipeline's
// events over graphql-transport-ws, each subscriber executing the selection per event as graphql-ws
// does. GET /healthz answers 200. Connection parameters are accepted as they come (no users).

import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { buildSchema, graphql } from "graphql";
import { useServer } from "graphql-ws/lib/use/ws";
import { WebSocketServer } from "ws";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => (arg.startsWith("--") ? [...pairs, [arg.slice(2), all[i + 1]]] : pairs), []),
);
const data = JSON.parse(readFileSync(args.data, "utf8"));

const schema = buildSchema(`
  type Stage { id: ID! label: String! }
  type User { id: ID! name: String! }
  type Deal { id: ID! name: String! amount: String stage: Stage! owner: User }
  type Event { sequence: String! type: String! fromStageId: ID deal: Deal }
  type UserError { code: String message: String! }
  type MoveDealPayload { deal: Deal userErrors: [UserError!]! }
  input MoveDealInput { dealId: ID! stageId: ID! }
  type Query { ok: Boolean }
  type Mutation { moveDeal(input: MoveDealInput!): MoveDealPayload! }
  type Subscription { boardChanged(pipelineId: ID!, after: String): Event! }
`);

// An in-memory PubSub: one push queue per subscriber, an async iterator over it.
class PubSub {
  constructor() {
    this.topics = new Map();
  }
  publish(topic, payload) {
    for (const push of this.topics.get(topic) ?? []) push(payload);
  }
  subscribe(topic) {
    const queue = [];
    const waiting = [];
    const listeners = this.topics.get(topic) ?? new Set();
    this.topics.set(topic, listeners);
    const push = (value) => (waiting.length ? waiting.shift()({ value, done: false }) : queue.push(value));
    listeners.add(push);
    const done = () => {
      listeners.delete(push);
      for (const resolve of waiting.splice(0)) resolve({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    };
    return {
      next: () => (queue.length ? Promise.resolve({ value: queue.shift(), done: false }) : new Promise((r) => waiting.push(r))),
      return: done,
      throw: (error) => (done(), Promise.reject(error)),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}

const pubsub = new PubSub();
const stages = new Map(data.stages.map((s) => [String(s.id), { id: String(s.id), label: s.label }]));
const users = new Map(data.users.map((u) => [String(u.id), { id: String(u.id), name: u.name }]));
const deals = new Map(data.deals.map((d) => [String(d.id), { ...d, id: String(d.id), stageId: String(d.stageId) }]));
let sequence = data.sequence;

// What an event carries: the deal as it was then (its stage and owner resolved on delivery).
const dealType = {
  stage: (deal) => stages.get(deal.stageId),
  owner: (deal) => (deal.ownerId == null ? null : users.get(String(deal.ownerId))),
};
const snapshot = (deal) => ({ ...deal, ...Object.fromEntries(Object.entries(dealType).map(([k, f]) => [k, () => f(deal)])) });

const root = {
  moveDeal({ input }) {
    const deal = deals.get(String(input.dealId));
    if (!deal || !stages.has(String(input.stageId))) {
      return { deal: null, userErrors: [{ code: "NOT_FOUND", message: "No such deal or stage." }] };
    }
    const from = deal.stageId;
    deal.stageId = String(input.stageId);
    sequence += 1;
    const event = { sequence: String(sequence), type: "deal.moved", fromStageId: from, deal: snapshot({ ...deal }) };
    pubsub.publish(`board.${data.pipelineId}`, { boardChanged: event });
    return { deal: snapshot(deal), userErrors: [] };
  },
  boardChanged({ pipelineId }) {
    return pubsub.subscribe(`board.${pipelineId}`);
  },
};

const server = createServer(async (req, res) => {
  if (req.method === "GET" && req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    return;
  }
  if (req.method !== "POST" || req.url !== "/graphql") {
    res.writeHead(404).end();
    return;
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const result = await graphql({ schema, source: body.query, variableValues: body.variables, rootValue: root });
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(result));
});

// graphql-ws calls the subscription's field resolver with the root value's function as above.
const wss = new WebSocketServer({ server, path: "/graphql", perMessageDeflate: false });
useServer(
  {
    schema,
    roots: { subscription: { boardChanged: (variables) => root.boardChanged(variables) } },
  },
  wss,
);
server.listen(Number(args.port), "127.0.0.1");
