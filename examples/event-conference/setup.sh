#!/bin/sh
# Sets up the event-conference example in the running `laurel dev`: an issuer profile, its
# signing key, two badges and the rules that award them. Every line is plain `laurel` CLI;
# cmd/laurel/rules_aggregates_test.go runs these exact lines.
set -eu
# The CLI finds laurel dev's admin key in its data directory; keep finding it after the cd.
export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"
cd "$(dirname "$0")"

laurel profiles create --id gopherconf --display-name "GopherConf 2026" --url https://gopherconf.example
laurel signing-keys create gopherconf
laurel achievements create --id gopherconf-2026-attendee --profile gopherconf --display-name "GopherConf 2026 attendee" --description "Attended GopherConf 2026." --criteria "Redeem the attendance code given at the registration desk." --image attendee.svg --tag event
laurel achievements create --id gopherconf-2026-speakers-choice --profile gopherconf --display-name "Speaker's choice, GopherConf 2026" --description "A speaker nominated by at least three attendees." --criteria "Be nominated in the conference app by three different attendees." --image speakers-choice.svg --tag event
laurel rules apply -f rules.yaml
