// The subscriber side of bench/fanout.py, the same for both servers: N graphql-transport-ws
// connections (the `ws` package), each subscribed once, and the events triggered one at a time.
//
//   node client.mjs CONFIG.json
//
// CONFIG: {"ws", "http", "tokens", "trigger_token", "subscribers", "subscription": {query, variables},
//          "warmup": [trigger...], "timed": [trigger...], "timeoutMs", "pauseMs"}: subscriber i
// authenticates with tokens[i % tokens.length]; a trigger is a GraphQL request {query, variables}
// POSTed to `http` with trigger_token. Protocol on stdout/stdin, one line
// each: the client prints READY once every subscriber has every warm-up event, waits for GO, runs
// the timed events (the next one sent when every subscriber has the last), prints RESULT <json>,
// then waits for CLOSE (so the caller reads the server's CPU before the sockets close) and exits.
//
// Per timed event: from sending its trigger, the time until the first, the median and the last
// subscriber had it, and until the trigger's response. At the end each subscriber must have had
// every event exactly once, in order, the same sequences as the others, without errors.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const N = config.subscribers;
const OPEN_AT_ONCE = 100;
const lines = createInterface({ input: process.stdin });
const commands = [];
const waiters = [];
lines.on("line", (line) => (waiters.length ? waiters.shift()(line.trim()) : commands.push(line.trim())));
const command = () => (commands.length ? Promise.resolve(commands.shift()) : new Promise((r) => waiters.push(r)));

function fail(message) {
  process.stdout.write(`FAILED ${message}\n`);
  process.exit(1);
}

// Each subscriber keeps what it received: [receipt time, raw frame].
const subscribers = [];
let expected = 0; // events the current wait is for (per subscriber)
let complete = 0; // subscribers that have `expected` events
let onComplete = null;
let lastAt = 0;

function received(sub, raw) {
  const at = performance.now();
  if (raw.startsWith('{"type":"ping"') || raw.includes('"type":"ping"')) {
    sub.socket.send('{"type":"pong"}');
    return;
  }
  sub.frames.push([at, raw]);
  if (sub.frames.length === expected) {
    complete += 1;
    lastAt = at;
    if (complete === N && onComplete) onComplete();
  }
}

function open(index) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(config.ws, "graphql-transport-ws", { perMessageDeflate: false });
    const sub = { index, socket, frames: [], closed: null };
    socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", payload: { Authorization: `Bearer ${config.tokens[index % config.tokens.length]}` } })));
    socket.on("message", (data) => {
      const raw = data.toString();
      if (raw.includes('"type":"connection_ack"') && !sub.acked) {
        sub.acked = true;
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: config.subscription }));
        resolve(sub);
        return;
      }
      received(sub, raw);
    });
    socket.on("close", (code, reason) => {
      sub.closed = `${code} ${reason}`;
      if (!sub.acked) reject(new Error(`subscriber ${index} closed before its ack: ${sub.closed}`));
    });
    socket.on("error", reject);
  });
}

function allHave(count, timeoutMs) {
  expected = count;
  complete = subscribers.filter((s) => s.frames.length >= count).length;
  if (complete === N) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => ((onComplete = null), resolve(false)), timeoutMs);
    onComplete = () => (clearTimeout(timer), (onComplete = null), resolve(true));
  });
}

async function trigger(request) {
  const response = await fetch(config.http, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${config.trigger_token}` },
    body: JSON.stringify(request),
  });
  const body = await response.json();
  if (response.status !== 200 || body.errors) fail(`trigger: ${response.status} ${JSON.stringify(body).slice(0, 500)}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

for (let start = 0; start < N; start += OPEN_AT_ONCE) {
  const batch = [];
  for (let i = start; i < Math.min(N, start + OPEN_AT_ONCE); i++) batch.push(open(i));
  try {
    subscribers.push(...(await Promise.all(batch)));
  } catch (error) {
    fail(String(error));
  }
}

let count = 0;
for (const request of config.warmup) {
  await trigger(request);
  count += 1;
  if (!(await allHave(count, config.timeoutMs))) fail(`warm-up event ${count}: ${complete} of ${N} subscribers had it`);
}
process.stdout.write("READY\n");
if ((await command()) !== "GO") fail("expected GO");

const events = [];
for (const request of config.timed) {
  await sleep(config.pauseMs ?? 50);
  const wait = allHave(count + 1, config.timeoutMs);
  const sent = performance.now();
  let answered = 0;
  const done = trigger(request).then(() => (answered = performance.now()));
  const ok = await wait;
  await done;
  if (!ok) fail(`event ${count + 1}: ${complete} of ${N} subscribers had it`);
  const times = subscribers.map((s) => s.frames[count][0] - sent).sort((a, b) => a - b);
  events.push({
    first_ms: times[0],
    median_ms: times[Math.floor(N / 2)],
    last_ms: lastAt - sent,
    response_ms: answered - sent,
  });
  count += 1;
}
await sleep(300); // anything sent twice arrives meanwhile

const problems = [];
let reference = null;
for (const sub of subscribers) {
  let sequences;
  try {
    sequences = sub.frames.map(([, raw]) => {
      const message = JSON.parse(raw);
      if (message.type !== "next" || message.id !== "1" || message.payload.errors) throw new Error(raw.slice(0, 300));
      return message.payload.data.boardChanged.sequence;
    });
  } catch (error) {
    problems.push(`subscriber ${sub.index}: ${error.message}`);
    continue;
  }
  if (sub.closed) problems.push(`subscriber ${sub.index} closed: ${sub.closed}`);
  if (sequences.length !== count) problems.push(`subscriber ${sub.index}: ${sequences.length} events, not ${count}`);
  if (new Set(sequences).size !== sequences.length) problems.push(`subscriber ${sub.index}: an event twice`);
  reference ??= sequences;
  if (sequences.join() !== reference.join()) problems.push(`subscriber ${sub.index}: other events than subscriber 0`);
}
const last = JSON.parse(subscribers[0].frames.at(-1)[1]).payload.data;
process.stdout.write(`RESULT ${JSON.stringify({ events, exact: problems.length === 0, problems: problems.slice(0, 10), sample: last })}\n`);
await command(); // CLOSE
for (const sub of subscribers) sub.socket.terminate();
process.exit(0);
