// Publish one activity event to Laurel straight on NATS JetStream, from Node.js.
// Against `laurel dev`:
//   node publish-event.mjs --nats nats://127.0.0.1:4223 --subject alice@example.org \
//     --type com.example.course.completed --data '{"course":"go-101","score":97}'
import { connect, headers } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    nats: { type: "string", default: "nats://127.0.0.1:4223" },
    tenant: { type: "string", default: "dev" },
    partitions: { type: "string", default: "8" }, // Laurel's --partitions
    source: { type: "string", default: "https://lms.example" },
    type: { type: "string", default: "com.example.course.completed" },
    subject: { type: "string" }, // who did it: your id for the person
    id: { type: "string", default: randomUUID() },
    data: { type: "string", default: "{}" },
  },
});

// One person's events go to one partition, so Laurel sees them in order:
// partition = FNV-1a-32(subject, as UTF-8) mod partitions.
function partition(subject, partitions) {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(subject)) {
    h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  }
  return h % partitions;
}

const nc = await connect({ servers: opt.nats });
try {
  const js = jetstream(nc);
  const subject = `laurel.activity.${opt.tenant}.${partition(opt.subject, Number(opt.partitions))}`;
  // A structured-mode CloudEvent: the whole event is the JSON body.
  const event = {
    specversion: "1.0",
    id: opt.id,
    source: opt.source,
    type: opt.type,
    subject: opt.subject,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    data: JSON.parse(opt.data),
  };
  const h = headers();
  h.set("Content-Type", "application/cloudevents+json");
  // msgID sets Nats-Msg-Id = "<source> <id>": JetStream stores a retried publish only once.
  const ack = await js.publish(subject, JSON.stringify(event), { msgID: `${opt.source} ${opt.id}`, headers: h });
  console.log(`published ${opt.id} to ${subject} (stream ${ack.stream}, sequence ${ack.seq}, duplicate ${ack.duplicate})`);
} finally {
  await nc.drain();
}
