#!/bin/sh
# Plays the conference app's "nominate this talk" button: each tap is a CloudEvent whose
# subject is the attendee who nominates and whose data.speaker is the speaker. Every event
# has an id, so running this twice counts nothing twice.
# cmd/laurel/rules_aggregates_test.go runs these exact lines.
set -eu
export LAUREL_DATA="${LAUREL_DATA:-$PWD/laurel-data}"

# Rob gave the keynote: Ada, Grace and Linus nominate him (Linus twice: it counts once).
laurel events publish --source https://app.gopherconf.example/talks --id nom-1 --type com.example.conf.talk.nominated --subject ada@example.org --time 2026-11-20T10:30:00Z --data-json '{"speaker":"rob@example.org","talk":"keynote"}'
laurel events publish --source https://app.gopherconf.example/talks --id nom-2 --type com.example.conf.talk.nominated --subject linus@example.org --time 2026-11-20T10:31:00Z --data-json '{"speaker":"rob@example.org","talk":"keynote"}'
laurel events publish --source https://app.gopherconf.example/talks --id nom-3 --type com.example.conf.talk.nominated --subject linus@example.org --time 2026-11-20T10:32:00Z --data-json '{"speaker":"rob@example.org","talk":"keynote"}'
laurel events publish --source https://app.gopherconf.example/talks --id nom-4 --type com.example.conf.talk.nominated --subject grace@example.org --time 2026-11-20T11:05:00Z --data-json '{"speaker":"rob@example.org","talk":"keynote"}'
# Ken spoke too: he nominates himself (ignored) and Ada nominates him (one of three).
laurel events publish --source https://app.gopherconf.example/talks --id nom-5 --type com.example.conf.talk.nominated --subject ken@example.org --time 2026-11-20T15:00:00Z --data-json '{"speaker":"ken@example.org","talk":"generics"}'
laurel events publish --source https://app.gopherconf.example/talks --id nom-6 --type com.example.conf.talk.nominated --subject ada@example.org --time 2026-11-20T15:10:00Z --data-json '{"speaker":"ken@example.org","talk":"generics"}'
