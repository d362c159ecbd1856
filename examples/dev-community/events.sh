#!/bin/sh
# Plays the developer-community example's forge activity into the running `laurel dev`, as
# the forge's webhook bridge would: pull requests merged and reviews submitted, each a
# CloudEvent with its own time. Every event has an id, so running this twice counts nothing
# twice. cmd/laurel/examples_test.go runs these exact lines.
set -eu

# ada@example.org: a first merged pull request, then three reviews.
laurel events publish --source https://forge.example/acme/widgets --id pr-101-merged --type dev.forge.pull_request.merged --subject ada@example.org --time 2026-11-02T10:15:00Z --data-json '{"repository":"acme/widgets","number":101,"title":"Fix typo in README"}'
laurel events publish --source https://forge.example/acme/widgets --id review-ada-1 --type dev.forge.review.submitted --subject ada@example.org --time 2026-11-03T14:00:00Z --data-json '{"repository":"acme/widgets","pull_request":110,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-ada-2 --type dev.forge.review.submitted --subject ada@example.org --time 2026-11-09T14:00:00Z --data-json '{"repository":"acme/widgets","pull_request":111,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-ada-3 --type dev.forge.review.submitted --subject ada@example.org --time 2026-11-20T14:00:00Z --data-json '{"repository":"acme/widgets","pull_request":112,"state":"approved"}'

# grace@example.org: eleven reviews in twelve days, one of them dismissed (it does not count),
# then her first merged pull request: with it she holds all three badges the milestone needs.
laurel events publish --source https://forge.example/acme/widgets --id review-grace-01 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-01T09:30:00Z --data-json '{"repository":"acme/widgets","pull_request":120,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-02 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-02T10:30:00Z --data-json '{"repository":"acme/widgets","pull_request":121,"state":"changes_requested"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-03 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-03T11:30:00Z --data-json '{"repository":"acme/widgets","pull_request":122,"state":"commented"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-04 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-04T12:30:00Z --data-json '{"repository":"acme/widgets","pull_request":123,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-05 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-05T13:30:00Z --data-json '{"repository":"acme/widgets","pull_request":124,"state":"dismissed"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-06 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-06T14:30:00Z --data-json '{"repository":"acme/widgets","pull_request":125,"state":"commented"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-07 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-08T15:30:00Z --data-json '{"repository":"acme/widgets","pull_request":126,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-08 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-09T16:30:00Z --data-json '{"repository":"acme/widgets","pull_request":127,"state":"changes_requested"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-09 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-10T09:30:00Z --data-json '{"repository":"acme/widgets","pull_request":128,"state":"commented"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-10 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-11T10:30:00Z --data-json '{"repository":"acme/widgets","pull_request":129,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-grace-11 --type dev.forge.review.submitted --subject grace@example.org --time 2026-11-12T11:30:00Z --data-json '{"repository":"acme/widgets","pull_request":130,"state":"changes_requested"}'
laurel events publish --source https://forge.example/acme/widgets --id pr-131-merged --type dev.forge.pull_request.merged --subject grace@example.org --time 2026-11-13T17:45:00Z --data-json '{"repository":"acme/widgets","number":131,"title":"Document the review checklist"}'

# linus@example.org: ten reviews, one a week: never ten within 30 days, so no badge yet.
laurel events publish --source https://forge.example/acme/widgets --id review-linus-01 --type dev.forge.review.submitted --subject linus@example.org --time 2026-09-01T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":200,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-02 --type dev.forge.review.submitted --subject linus@example.org --time 2026-09-08T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":201,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-03 --type dev.forge.review.submitted --subject linus@example.org --time 2026-09-15T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":202,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-04 --type dev.forge.review.submitted --subject linus@example.org --time 2026-09-22T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":203,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-05 --type dev.forge.review.submitted --subject linus@example.org --time 2026-09-29T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":204,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-06 --type dev.forge.review.submitted --subject linus@example.org --time 2026-10-06T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":205,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-07 --type dev.forge.review.submitted --subject linus@example.org --time 2026-10-13T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":206,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-08 --type dev.forge.review.submitted --subject linus@example.org --time 2026-10-20T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":207,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-09 --type dev.forge.review.submitted --subject linus@example.org --time 2026-10-27T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":208,"state":"approved"}'
laurel events publish --source https://forge.example/acme/widgets --id review-linus-10 --type dev.forge.review.submitted --subject linus@example.org --time 2026-11-03T16:00:00Z --data-json '{"repository":"acme/gadgets","pull_request":209,"state":"approved"}'
