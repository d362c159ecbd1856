module github.com/laurel-badges/laurel/services/issuer

go 1.26.0

replace (
	github.com/laurel-badges/laurel/openbadges => ../../openbadges
	github.com/laurel-badges/laurel/platform => ../../platform
	github.com/laurel-badges/laurel/proto => ../../proto
)
