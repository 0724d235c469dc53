"""Verifies Nishan's webhook deliveries with the Standard Webhooks reference library.

Reads a JSON list of deliveries ({"headers": {...}, "body": "..."}) on stdin; argv[1:] are
secrets (whsec_...). Every delivery must verify under every secret given. Prints one line per
delivery: its webhook-id and the payload's type.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook

deliveries = json.load(sys.stdin)
for secret in sys.argv[1:]:
    hook = Webhook(secret)
    for d in deliveries:
        hook.verify(d["body"], d["headers"])
for d in deliveries:
    print(d["headers"]["webhook-id"], json.loads(d["body"])["type"])
