package issuance

import (
	"crypto/rand"
	"encoding/hex"
)

func randomSuffix() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms (Go ≥ 1.24)
	return hex.EncodeToString(b[:])
}
