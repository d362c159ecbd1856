"""Publish one activity event to Laurel straight on NATS JetStream, with nats-py.

    pip install nats-py
    python publish_event.py --nats nats://127.0.0.1:4223 --subject alice@example.org \
        --type com.example.course.completed --data '{"course": "go-101", "score": 97}'
"""
import argparse
import asyncio
import json
import uuid
from datetime import datetime, timezone

import nats


def partition(subject: str, partitions: int) -> int:
    """One person's events go to one partition, so Laurel sees them in order:
    FNV-1a-32(subject, as UTF-8) mod partitions."""
    h = 0x811C9DC5
    for byte in subject.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h % partitions


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--nats", default="nats://127.0.0.1:4223")
    p.add_argument("--tenant", default="dev")
    p.add_argument("--partitions", type=int, default=8)  # Laurel's --partitions
    p.add_argument("--source", default="https://lms.example")
    p.add_argument("--type", default="com.example.course.completed")
    p.add_argument("--subject", required=True)  # who did it: your id for the person
    p.add_argument("--id", default=str(uuid.uuid4()))
    p.add_argument("--data", default="{}")
    a = p.parse_args()

    nc = await nats.connect(a.nats)
    try:
        js = nc.jetstream()
        subject = f"laurel.activity.{a.tenant}.{partition(a.subject, a.partitions)}"
        # A structured-mode CloudEvent: the whole event is the JSON body.
        event = {
            "specversion": "1.0",
            "id": a.id,
            "source": a.source,
            "type": a.type,
            "subject": a.subject,
            "time": datetime.now(timezone.utc).isoformat(),
            "datacontenttype": "application/json",
            "data": json.loads(a.data),
        }
        ack = await js.publish(
            subject,
            json.dumps(event).encode(),
            # Nats-Msg-Id = "<source> <id>": JetStream stores a retried publish only once.
            headers={"Content-Type": "application/cloudevents+json", "Nats-Msg-Id": f"{a.source} {a.id}"},
        )
        print(f"published {a.id} to {subject} (stream {ack.stream}, sequence {ack.seq}, duplicate {ack.duplicate})")
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
