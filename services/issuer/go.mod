module github.com/laurel-badges/laurel/services/issuer

go 1.26.0

replace (
	github.com/laurel-badges/laurel/openbadges => ../../openbadges
	github.com/laurel-badges/laurel/platform => ../../platform
	github.com/laurel-badges/laurel/proto => ../../proto
)

require (
	github.com/klauspost/compress v1.20.0 // indirect
	github.com/nats-io/nats.go v1.56.0 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	go.uber.org/goleak v1.3.0 // indirect
	golang.org/x/crypto v0.57.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)
