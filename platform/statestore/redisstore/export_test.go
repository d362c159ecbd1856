package redisstore

// ApplyScriptHash exposes the Apply script's SHA-1 to the external tests.
func ApplyScriptHash() string { return applyScript.Hash() }
