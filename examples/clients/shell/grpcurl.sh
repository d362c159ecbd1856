#!/bin/sh
# Call Laurel's gRPC API with grpcurl (https://github.com/fullstorydev/grpcurl). Server
# reflection is on, so grpcurl needs no .proto files.
#   LAUREL_API_KEY=lrl_... LAUREL_ADDR=127.0.0.1:7070 ./grpcurl.sh alice@example.org
set -eu
addr=${LAUREL_ADDR:-127.0.0.1:7070}

# What the server offers.
grpcurl -plaintext "$addr" list

# Publish an activity event.
grpcurl -plaintext -H "authorization: Bearer $LAUREL_API_KEY" -d '{
  "event": {"id": "'"$(date +%s%N)"'", "source": "https://lms.example", "type": "com.example.course.completed",
            "subject": "'"$1"'", "data": {"course": "go-101", "score": 97}}
}' "$addr" laurel.rules.v1.RulesService/PublishEvent

# The person's credentials.
grpcurl -plaintext -H "authorization: Bearer $LAUREL_API_KEY" -d '{"recipient": "'"$1"'"}' \
  "$addr" laurel.issuer.v1.IssuerService/ListCredentials
