"""A webhook receiver with the standard library only: checks each delivery's
signature (Standard Webhooks), drops a delivery it has already had (same
webhook-id), and prints the event.

    DOCPROC_WEBHOOK_SECRET=whsec_... python3 examples/webhook_receiver.py [port]

Give tasks callback_url=http://127.0.0.1:<port>/ (the embedded stack takes a
loopback callback with `npm start -- --allow-private-urls`, and prints its
secret at start; on AWS the secret is in Secrets Manager, output
WebhookSecretArn).
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Older timestamps are refused: a captured delivery cannot be replayed later.
TOLERANCE_SECONDS = 5 * 60

SECRET = os.environ.get("DOCPROC_WEBHOOK_SECRET")
if not SECRET:
    sys.exit("Set DOCPROC_WEBHOOK_SECRET to the whsec_... secret the service signs with.")

# Each secret's key: the bytes its base64 stands for (several while the service rotates).
KEYS = [base64.b64decode(entry.removeprefix("whsec_")) for entry in SECRET.split()]


def verify(headers, body: bytes) -> bool:
    """Whether the body came from the service: a v1 signature made with one of the keys, recently."""
    webhook_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp", "")
    if not webhook_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode() for key in KEYS]
    for entry in headers.get("webhook-signature", "").split():
        version, _, signature = entry.partition(",")
        # Compared in constant time: timing must not tell how much of a forged signature was right.
        if version == "v1" and any(hmac.compare_digest(signature, mac) for mac in expected):
            return True
    return False


SEEN = set()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if not verify(self.headers, body):
            print("refused: bad or missing signature", flush=True)
            self.send_response(401)
            self.end_headers()
            return
        webhook_id = self.headers["webhook-id"]
        # Deliveries come at least once: the webhook-id says which ones were already handled.
        if webhook_id in SEEN:
            print(f"duplicate {webhook_id}", flush=True)
        else:
            SEEN.add(webhook_id)
            event = json.loads(body)
            data = event["data"]
            print(f"{event['type']} {data['task_id']} {data['status']} ({webhook_id})", flush=True)
        # Answer 2xx at once; slow work belongs after the answer (the service waits 10 s, then tries again).
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass  # one line per event is printed above


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("PORT", "9000"))
    server = ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()
