#!/bin/sh
# Sets up the developer-community example in the running `laurel dev`: an issuer profile,
# its signing key, two badges and the rules that award them. Every line is plain `laurel`
# CLI; cmd/laurel/examples_test.go runs these exact lines.
set -eu
# The CLI finds laurel dev's admin key in its data directory; keep finding it after the cd.
export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"
cd "$(dirname "$0")"

laurel profiles create --id acme-community --display-name "Acme Open Source" --url https://forge.example/acme
laurel signing-keys create acme-community
laurel achievements create --id first-contribution --profile acme-community --display-name "First contribution" --description "Had a first pull request merged into an Acme project." --criteria "Get one pull request merged in any repository under forge.example/acme." --image first-contribution.svg --tag community
laurel achievements create --id reviewer --profile acme-community --display-name "10 reviews in 30 days" --description "Reviewed ten pull requests within 30 days." --criteria "Submit ten code reviews (dismissed ones excepted) within any 30 days." --image reviewer.svg --tag community
laurel rules apply -f rules.yaml
