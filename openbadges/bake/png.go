package bake

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf8"
)

// PNG chunk keywords of baked credentials.
const (
	keywordOB3 = "openbadgecredential"
	keywordOB2 = "openbadges"
)

func keywordFor(v Version) string {
	if v == OB3 {
		return keywordOB3
	}
	return keywordOB2
}

// chunk is one PNG chunk: its position in the image and its parts.
type chunk struct {
	start, end int // byte range of the whole chunk (length, type, data, CRC)
	typ        string
	data       []byte
}

// readChunks checks the PNG structure (signature, chunk lengths and types, CRCs, IHDR first,
// IEND last and nothing after it, the chunk count) and returns the chunks.
func readChunks(img []byte, o Options) ([]chunk, error) {
	if !bytes.HasPrefix(img, pngSignature) {
		return nil, fmt.Errorf("%w: bad PNG signature", ErrMalformed)
	}
	var chunks []chunk
	off := len(pngSignature)
	for {
		if len(chunks) == o.MaxChunks {
			return nil, fmt.Errorf("%w: more than %d chunks", ErrTooLarge, o.MaxChunks)
		}
		if len(img)-off < 12 {
			return nil, fmt.Errorf("%w: truncated chunk header at offset %d", ErrMalformed, off)
		}
		n := binary.BigEndian.Uint32(img[off:])
		if n > 1<<31-1 {
			return nil, fmt.Errorf("%w: chunk %d at offset %d: length %d exceeds 2^31-1", ErrMalformed, len(chunks), off, n)
		}
		typ := img[off+4 : off+8]
		for _, c := range typ {
			if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
				return nil, fmt.Errorf("%w: chunk %d at offset %d: invalid type %q", ErrMalformed, len(chunks), off, typ)
			}
		}
		if uint64(len(img)-off-12) < uint64(n) {
			return nil, fmt.Errorf("%w: chunk %d (%s) at offset %d: length %d runs past the end of the image", ErrMalformed, len(chunks), typ, off, n)
		}
		end := off + 12 + int(n)
		data := img[off+8 : end-4]
		if want, got := binary.BigEndian.Uint32(img[end-4:]), crc32.ChecksumIEEE(img[off+4:end-4]); want != got {
			return nil, fmt.Errorf("%w: chunk %d (%s) at offset %d: CRC mismatch", ErrMalformed, len(chunks), typ, off)
		}
		c := chunk{start: off, end: end, typ: string(typ), data: data}
		if len(chunks) == 0 && (c.typ != "IHDR" || n != 13) {
			return nil, fmt.Errorf("%w: first chunk is %s, want a 13-byte IHDR", ErrMalformed, c.typ)
		}
		chunks = append(chunks, c)
		off = end
		if c.typ == "IEND" {
			break
		}
		if off == len(img) {
			return nil, fmt.Errorf("%w: no IEND chunk", ErrMalformed)
		}
	}
	if off != len(img) {
		return nil, fmt.Errorf("%w: %d bytes after IEND", ErrMalformed, len(img)-off)
	}
	return chunks, nil
}

// bakedVersion tells whether c is a baked-credential chunk and of which version.
func bakedVersion(c chunk) (Version, bool) {
	if c.typ != "iTXt" && c.typ != "tEXt" {
		return 0, false
	}
	kw, _, ok := bytes.Cut(c.data, []byte{0})
	if !ok {
		return 0, false
	}
	switch string(kw) {
	case keywordOB3:
		return OB3, c.typ == "iTXt" // OB 3.0 defines only iTXt
	case keywordOB2:
		return OB2, true
	}
	return 0, false
}

func unbakePNG(img []byte, o Options) ([]Badge, error) {
	chunks, err := readChunks(img, o)
	if err != nil {
		return nil, err
	}
	var found []Badge
	seen := map[Version]int{}
	for i, c := range chunks {
		v, ok := bakedVersion(c)
		if !ok {
			continue
		}
		if first, dup := seen[v]; dup {
			return nil, fmt.Errorf("%w: %s chunks %d and %d both carry %q", ErrDuplicate, c.typ, first, i, keywordFor(v))
		}
		seen[v] = i
		text, err := chunkText(c, o)
		if err != nil {
			return nil, fmt.Errorf("chunk %d (%s %q) at offset %d: %w", i, c.typ, keywordFor(v), c.start, err)
		}
		payload := bytes.TrimSpace(text)
		kind, err := sniff(payload)
		if err != nil {
			return nil, fmt.Errorf("chunk %d (%s %q) at offset %d: %w", i, c.typ, keywordFor(v), c.start, err)
		}
		found = append(found, Badge{Version: v, Kind: kind, Payload: payload})
	}
	return found, nil
}

// chunkText returns the text of an iTXt or tEXt chunk, inflating compressed iTXt text
// under the payload limit.
func chunkText(c chunk, o Options) ([]byte, error) {
	_, rest, _ := bytes.Cut(c.data, []byte{0})
	if c.typ == "tEXt" {
		// tEXt is Latin-1; a legacy baked URL is ASCII, anything else is refused.
		for _, b := range rest {
			if b >= 0x80 {
				return nil, fmt.Errorf("%w: non-ASCII tEXt", ErrMalformed)
			}
		}
		return checkSize(rest, o)
	}
	if len(rest) < 2 {
		return nil, fmt.Errorf("%w: iTXt without compression fields", ErrMalformed)
	}
	flag, method := rest[0], rest[1]
	rest = rest[2:]
	// Language tag and translated keyword, each NUL-terminated; baking gives them no meaning.
	for _, field := range []string{"language tag", "translated keyword"} {
		var ok bool
		if _, rest, ok = bytes.Cut(rest, []byte{0}); !ok {
			return nil, fmt.Errorf("%w: iTXt %s not terminated", ErrMalformed, field)
		}
	}
	var text []byte
	switch {
	case flag == 0:
		text = rest
	case flag == 1 && method == 0:
		zr, err := zlib.NewReader(bytes.NewReader(rest))
		if err != nil {
			return nil, fmt.Errorf("%w: compressed iTXt: %v", ErrMalformed, err)
		}
		text, err = io.ReadAll(io.LimitReader(zr, int64(o.MaxPayloadBytes)+1))
		if err != nil {
			return nil, fmt.Errorf("%w: compressed iTXt: %v", ErrMalformed, err)
		}
	default:
		return nil, fmt.Errorf("%w: iTXt compression flag %d method %d", ErrMalformed, flag, method)
	}
	if !utf8.Valid(text) {
		return nil, fmt.Errorf("%w: iTXt text is not UTF-8", ErrMalformed)
	}
	return checkSize(text, o)
}

func checkSize(text []byte, o Options) ([]byte, error) {
	if len(text) > o.MaxPayloadBytes {
		return nil, fmt.Errorf("%w: credential larger than %d bytes", ErrTooLarge, o.MaxPayloadBytes)
	}
	return text, nil
}

// iTXtChunk encodes an uncompressed iTXt chunk, as both specs require for baking.
func iTXtChunk(keyword string, text []byte) []byte {
	var data bytes.Buffer
	data.WriteString(keyword)
	data.Write([]byte{0, 0, 0, 0, 0}) // keyword end, no compression, method 0, empty language tag, empty translated keyword
	data.Write(text)
	out := make([]byte, 0, data.Len()+12)
	out = binary.BigEndian.AppendUint32(out, uint32(data.Len()))
	out = append(out, "iTXt"...)
	out = append(out, data.Bytes()...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out[4:]))
}

// bakePNG writes the credential chunk in place of an earlier one of the same version, or
// right after IHDR so that readers, which stop at the first match, find it early.
func bakePNG(img []byte, b Badge, o Options) ([]byte, error) {
	if len(b.Payload)+len(keywordFor(b.Version))+5 > 1<<31-1 {
		return nil, fmt.Errorf("%w: payload too large for a PNG chunk", ErrTooLarge)
	}
	chunks, err := readChunks(img, o)
	if err != nil {
		return nil, err
	}
	replace := -1
	for i, c := range chunks {
		if v, ok := bakedVersion(c); ok && v == b.Version {
			if replace >= 0 {
				return nil, fmt.Errorf("%w: chunks %d and %d both carry %q", ErrDuplicate, replace, i, keywordFor(v))
			}
			replace = i
		}
	}
	newChunk := iTXtChunk(keywordFor(b.Version), b.Payload)
	out := make([]byte, 0, len(img)+len(newChunk))
	if replace >= 0 {
		out = append(out, img[:chunks[replace].start]...)
		out = append(out, newChunk...)
		return append(out, img[chunks[replace].end:]...), nil
	}
	ihdrEnd := chunks[0].end
	out = append(out, img[:ihdrEnd]...)
	out = append(out, newChunk...)
	return append(out, img[ihdrEnd:]...), nil
}
