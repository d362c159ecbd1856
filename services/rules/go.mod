module github.com/laurel-badges/laurel/services/rules

go 1.26.0

replace (
	github.com/laurel-badges/laurel/openbadges => ../../openbadges
	github.com/laurel-badges/laurel/platform => ../../platform
	github.com/laurel-badges/laurel/proto => ../../proto
)

require github.com/google/go-cmp v0.7.0 // indirect
