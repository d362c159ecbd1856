// Receive Laurel's webhooks and check each one's Standard Webhooks signature with
// node:crypto alone before trusting it.
//   LAUREL_WEBHOOK_SECRET=whsec_... node webhook-receiver.mjs --listen 127.0.0.1:8091
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { parseArgs } from "node:util";

// Older signed requests are refused, so a captured request cannot be replayed later.
const TOLERANCE_SECONDS = 5 * 60;

// verify checks the webhook-signature header against the id, the timestamp and the exact
// body bytes received. secret is the subscription's "whsec_…" signing secret.
export function verify(secret, headers, body, nowSeconds = Date.now() / 1000) {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const id = headers["webhook-id"];
  const ts = headers["webhook-timestamp"];
  const sigs = headers["webhook-signature"];
  if (!id || !/^\d+$/.test(ts ?? "") || !sigs) throw new Error("missing webhook headers");
  if (Math.abs(nowSeconds - Number(ts)) > TOLERANCE_SECONDS) throw new Error("timestamp too far from now");
  const want = createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest();
  // The header may carry several space-separated signatures (during secret rotation).
  for (const s of sigs.split(" ")) {
    const [version, sig] = s.split(",", 2);
    const got = Buffer.from(sig ?? "", "base64");
    if (version === "v1" && got.length === want.length && timingSafeEqual(got, want)) return;
  }
  throw new Error("no valid signature");
}

const { values: opt } = parseArgs({ options: { listen: { type: "string", default: "127.0.0.1:8091" } } });
const secret = process.env.LAUREL_WEBHOOK_SECRET ?? "";
const [host, port] = opt.listen.split(/:(?=\d+$)/);

createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks); // verify the raw bytes, never re-serialised JSON
    try {
      verify(secret, req.headers, body);
    } catch (err) {
      console.error(`rejected ${req.headers["webhook-id"]}: ${err.message}`);
      res.writeHead(401).end(err.message);
      return;
    }
    const event = JSON.parse(body);
    // webhook-id is the same on every retry of a delivery: use it to drop duplicates.
    console.log(`verified ${req.headers["webhook-id"]} ${event.type} ${event.subject} ${event.data?.achievementId}`);
    res.writeHead(204).end();
  });
}).listen(Number(port), host, () => console.error(`listening on ${opt.listen}`));
