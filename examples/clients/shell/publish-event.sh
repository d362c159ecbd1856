#!/bin/sh
# Publish one activity event over Laurel's JSON/HTTP API with curl. An issuer-role key is
# enough. The answer says where the event was stored and whether it was a duplicate.
#   LAUREL_API_KEY=lrl_... LAUREL_URL=http://127.0.0.1:7070 ./publish-event.sh alice@example.org
set -eu
curl -sS --fail-with-body -X POST "${LAUREL_URL:-http://127.0.0.1:7070}/v1/events:publish" \
  -H "authorization: Bearer $LAUREL_API_KEY" \
  -H "content-type: application/json" \
  -d '{
    "event": {
      "id": "'"${EVENT_ID:-$(date +%s%N)}"'",
      "source": "https://lms.example",
      "type": "com.example.course.completed",
      "subject": "'"$1"'",
      "time": "'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'",
      "data": {"course": "go-101", "score": 97}
    }
  }'
echo
