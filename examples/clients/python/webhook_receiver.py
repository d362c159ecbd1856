"""Receive Laurel's webhooks and check each one's Standard Webhooks signature with the
standard library alone before trusting it.

    LAUREL_WEBHOOK_SECRET=whsec_... python webhook_receiver.py --listen 127.0.0.1:8092
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

# Older signed requests are refused, so a captured request cannot be replayed later.
TOLERANCE_SECONDS = 5 * 60


def verify(secret: str, headers, body: bytes, now: float | None = None) -> None:
    """Raise ValueError unless webhook-signature matches the id, the timestamp and the
    exact body bytes received. secret is the subscription's "whsec_..." signing secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp") or ""
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts.isdigit() or not sigs:
        raise ValueError("missing webhook headers")
    if abs((now or time.time()) - int(ts)) > TOLERANCE_SECONDS:
        raise ValueError("timestamp too far from now")
    want = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    # The header may carry several space-separated signatures (during secret rotation).
    for s in sigs.split(" "):
        version, _, sig = s.partition(",")
        try:
            got = base64.b64decode(sig, validate=True)
        except ValueError:
            continue
        if version == "v1" and hmac.compare_digest(got, want):
            return
    raise ValueError("no valid signature")


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            verify(os.environ.get("LAUREL_WEBHOOK_SECRET", ""), self.headers, body)
        except ValueError as err:
            print(f"rejected {self.headers.get('webhook-id')}: {err}", file=sys.stderr, flush=True)
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        # webhook-id is the same on every retry of a delivery: use it to drop duplicates.
        print(f"verified {self.headers['webhook-id']} {event['type']} {event['subject']} "
              f"{event.get('data', {}).get('achievementId')}", flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # one line per delivery is printed above
        pass


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:8092")
    host, port = p.parse_args().listen.rsplit(":", 1)
    HTTPServer((host, int(port)), Handler).serve_forever()
