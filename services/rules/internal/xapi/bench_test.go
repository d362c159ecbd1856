package xapi

import (
	"strings"
	"testing"
)

// BenchmarkParseAndMap: checking and mapping one typical statement, the per-statement CPU
// cost of POST /xapi/statements before publishing.
func BenchmarkParseAndMap(b *testing.B) {
	body := []byte("[" + strings.Repeat(goodStatement+",", 99) + goodStatement + "]")
	m := Mapping{VerbTypes: map[string]string{completed: "com.example.module.completed"}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		sts, err := ParseStatements(body)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range sts {
			if _, ok, _ := m.Event(s); !ok {
				b.Fatal("unmapped")
			}
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "statements/s")
}
