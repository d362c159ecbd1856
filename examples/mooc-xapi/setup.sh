#!/bin/sh
# Sets up the MOOC example in the running `laurel dev`: an issuer profile, its signing key,
# three badges, the xAPI mapping and the rules that award the badges. Every line is plain
# `laurel` CLI; cmd/laurel/ingest_test.go runs these exact lines.
set -eu
cd "$(dirname "$0")"

laurel profiles create --id mooc --display-name "Example MOOC" --url https://mooc.example.com
laurel signing-keys create mooc
laurel achievements create --id go-101-complete --profile mooc --display-name "Go 101: course complete" --description "Completed every module of Go 101." --criteria "Complete all four modules of Go 101." --image go-101-complete.svg --tag mooc
laurel achievements create --id go-101-top-scorer --profile mooc --display-name "Go 101: top scorer" --description "Scored 90% or more on the Go 101 quiz." --criteria "Score at least 90% on the Go 101 quiz." --image go-101-top-scorer.svg --tag mooc
laurel achievements create --id five-day-streak --profile mooc --display-name "5-day streak" --description "Learned on five days in a row." --criteria "Complete a module or take a quiz on five consecutive days (Paris time)." --image five-day-streak.svg --tag mooc
laurel xapi mapping set -f mapping.yaml
laurel rules apply -f rules.yaml
