#!/bin/sh
# Sets up the developer-community example in the running `laurel dev`: an issuer profile,
# its signing key, four badges and the rules that award them. Every line is plain `laurel`
# CLI; cmd/laurel/examples_test.go runs these exact lines.
set -eu
# The CLI finds laurel dev's admin key in its data directory; keep finding it after the cd.
export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"
cd "$(dirname "$0")"

laurel profiles create --id acme-community --display-name "Acme Open Source" --url https://forge.example/acme
laurel signing-keys create acme-community
laurel achievements create --id first-contribution --profile acme-community --display-name "First contribution" --description "Had a first pull request merged into an Acme project." --criteria "Get one pull request merged in any repository under forge.example/acme." --image first-contribution.svg --tag community
laurel achievements create --id reviewer --profile acme-community --display-name "10 reviews in 30 days" --description "Reviewed ten pull requests within 30 days." --criteria "Submit ten code reviews (dismissed ones excepted) within any 30 days." --image reviewer.svg --tag community
laurel achievements create --id first-review --profile acme-community --display-name "First review" --description "Reviewed a pull request in an Acme project." --criteria "Submit one code review that is not dismissed." --image first-review.svg --tag community
laurel achievements create --id community-pillar --profile acme-community --display-name "Community pillar" --description "Holds three Acme community badges: First contribution, First review and 10 reviews in 30 days." --criteria "Earn First contribution, First review and 10 reviews in 30 days." --image community-pillar.svg --tag community --tag milestone
# The milestone rule counts only badges issued after it exists: apply the rules before any activity.
laurel rules apply -f rules.yaml
