module github.com/laurel-badges/laurel/cmd/laurel

go 1.26.0

replace (
	github.com/laurel-badges/laurel/openbadges => ../../openbadges
	github.com/laurel-badges/laurel/platform => ../../platform
	github.com/laurel-badges/laurel/proto => ../../proto
	github.com/laurel-badges/laurel/services/issuer => ../../services/issuer
	github.com/laurel-badges/laurel/services/notifier => ../../services/notifier
	github.com/laurel-badges/laurel/services/rules => ../../services/rules
	github.com/laurel-badges/laurel/services/verifier => ../../services/verifier
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/peterbourgon/ff/v3 v3.4.0 // indirect
	go.uber.org/goleak v1.3.0 // indirect
)
