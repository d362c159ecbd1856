#!/bin/sh
# Plays the registration desk: makes the conference's attendance code (one code, 500 uses,
# valid 72 hours), then the conference app redeems it for each attendee who types it in.
# Redemption is an authenticated API call made by the app on the attendee's behalf.
# cmd/laurel/rules_aggregates_test.go runs these exact lines.
set -eu
export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"

CODE=$(laurel claims generate attendee --count 1 --uses 500 --expires 72h)
laurel claims redeem "$CODE" --recipient ada@example.org
laurel claims redeem "$CODE" --recipient grace@example.org
laurel claims redeem "$CODE" --recipient linus@example.org
laurel claims redeem "$CODE" --recipient ken@example.org
laurel claims redeem "$CODE" --recipient rob@example.org
# Ada types it again: nothing changes, she holds one Attendee badge.
laurel claims redeem "$CODE" --recipient ada@example.org
