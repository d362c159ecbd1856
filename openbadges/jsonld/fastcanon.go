package jsonld

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"slices"
	"strconv"
	"strings"
)

// blankHash is a blank node's first-degree hash.
type blankHash struct {
	hash  [sha256.Size]byte
	blank int32
}

// span is one line of a buffer of N-Quads lines.
type span struct{ start, end int }

// canonicalizeQuads is RDFC-1.0 for a dataset whose blank nodes all have
// distinct first-degree hashes (the "simple" case: canonical labels
// follow the order of those hashes, and the N-degree algorithm never
// runs). ok is false when two blank nodes share a hash or one quad holds
// a blank node twice; the caller then needs the full algorithm. Graph
// names are blank nodes or the default graph. blanks is the number of
// blank node labels quads may use; dup says quads may hold exact repeats,
// which a dataset (a set) must not. w only lends its scratch buffers.
// The cost is linear in the number of quads.
func canonicalizeQuads(w *fastWalker, quads []fastQuad, blanks int, dup bool) (string, bool) {
	if dup {
		slices.SortFunc(quads, compareQuads)
		quads = slices.CompactFunc(quads, func(x, y fastQuad) bool { return compareQuads(x, y) == 0 })
	}

	// The quads that mention each blank node, grouped by a counting sort:
	// mentions of blank node b are byBlank[start[b]:start[b+1]].
	start := slices.Grow(w.start[:0], blanks+1)[:blanks+1]
	clear(start)
	for _, q := range quads {
		// A blank node twice in one quad: json-gold lists the quad twice
		// under it.
		if sameBlank(q.s, q.o) || sameBlank(q.s, q.g) || sameBlank(q.o, q.g) {
			return "", false
		}
		for _, r := range [...]fastRef{q.s, q.o, q.g} {
			if r.kind == refBlank {
				start[r.blank+1]++
			}
		}
	}
	for b := 1; b <= blanks; b++ {
		start[b] += start[b-1]
	}
	byBlank := slices.Grow(w.byBlank[:0], int(start[blanks]))[:start[blanks]]
	next := slices.Grow(w.next[:0], blanks)[:blanks]
	copy(next, start[:blanks])
	for i, q := range quads {
		for _, r := range [...]fastRef{q.s, q.o, q.g} {
			if r.kind == refBlank {
				byBlank[next[r.blank]] = int32(i)
				next[r.blank]++
			}
		}
	}
	w.start, w.byBlank, w.next = start, byBlank, next

	// Hash First Degree Quads for every blank node that occurs: its
	// quads, itself written _:a and any other blank node _:z, sorted.
	hashes := w.hashes[:0]
	for b := range int32(blanks) {
		mentioned := byBlank[start[b]:start[b+1]]
		if len(mentioned) == 0 {
			continue
		}
		buf, spans := w.buf[:0], w.spans[:0]
		for _, qi := range mentioned {
			first := len(buf)
			buf = appendQuad(buf, quads[qi], func(dst []byte, blank int32) []byte {
				if blank == b {
					return append(dst, "_:a"...)
				}
				return append(dst, "_:z"...)
			})
			spans = append(spans, span{first, len(buf)})
		}
		w.joined = appendSorted(w.joined[:0], buf, spans)
		hashes = append(hashes, blankHash{hash: sha256.Sum256(w.joined), blank: b})
		w.buf, w.spans = buf, spans
	}
	w.hashes = hashes
	slices.SortFunc(hashes, func(x, y blankHash) int { return bytes.Compare(x.hash[:], y.hash[:]) })
	labels := slices.Grow(w.labels[:0], blanks)[:blanks]
	w.labels = labels
	for i, h := range hashes {
		if i > 0 && h.hash == hashes[i-1].hash {
			return "", false
		}
		labels[h.blank] = "_:c14n" + strconv.Itoa(i)
	}

	// Serialize with the canonical labels and sort.
	buf, spans := w.buf[:0], w.spans[:0]
	for _, q := range quads {
		first := len(buf)
		buf = appendQuad(buf, q, func(dst []byte, blank int32) []byte {
			return append(dst, labels[blank]...)
		})
		spans = append(spans, span{first, len(buf)})
	}
	w.buf, w.spans = buf, spans
	w.joined = appendSorted(w.joined[:0], buf, spans)
	return string(w.joined), true
}

// appendSorted appends the lines of buf named by spans in code point
// order (byte order of UTF-8), as RDFC-1.0 sorts N-Quads.
func appendSorted(dst, buf []byte, spans []span) []byte {
	slices.SortFunc(spans, func(x, y span) int {
		return bytes.Compare(buf[x.start:x.end], buf[y.start:y.end])
	})
	for _, sp := range spans {
		dst = append(dst, buf[sp.start:sp.end]...)
	}
	return dst
}

func sameBlank(x, y fastRef) bool {
	return x.kind == refBlank && y.kind == refBlank && x.blank == y.blank
}

// appendQuad appends q as an N-Quads line, blank nodes written by label.
func appendQuad(dst []byte, q fastQuad, label func([]byte, int32) []byte) []byte {
	dst = appendRef(dst, q.s, label)
	dst = append(dst, ' ')
	dst = append(dst, q.p...)
	dst = append(dst, ' ')
	dst = appendRef(dst, q.o, label)
	if q.g.kind != refNone {
		dst = append(dst, ' ')
		dst = appendRef(dst, q.g, label)
	}
	return append(dst, " .\n"...)
}

func appendRef(dst []byte, r fastRef, label func([]byte, int32) []byte) []byte {
	switch r.kind {
	case refBlank:
		return label(dst, r.blank)
	case refIRI:
		dst = append(dst, '<')
		dst = append(dst, r.text...)
		return append(dst, '>')
	default:
		dst = append(dst, '"')
		dst = append(dst, r.text...)
		dst = append(dst, '"')
		return append(dst, r.suffix...)
	}
}

func compareQuads(x, y fastQuad) int {
	if c := compareRefs(x.s, y.s); c != 0 {
		return c
	}
	if c := strings.Compare(x.p, y.p); c != 0 {
		return c
	}
	if c := compareRefs(x.o, y.o); c != 0 {
		return c
	}
	return compareRefs(x.g, y.g)
}

func compareRefs(x, y fastRef) int {
	return cmp.Or(
		cmp.Compare(x.kind, y.kind),
		cmp.Compare(x.blank, y.blank),
		strings.Compare(x.text, y.text),
		strings.Compare(x.suffix, y.suffix),
	)
}
