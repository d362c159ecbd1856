package jsonobj

import (
	"encoding/json"
	"fmt"
)

// The scanner below splits an object or array into its members without decoding them, so
// each nesting level costs one pass over its own bytes. Callers hand it JSON that
// encoding/json or Check already validated; on anything else it returns an error rather
// than guessing.

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString returns the index just past the string literal starting at data[i] == '"'.
func scanString(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at offset %d", i)
}

// scanValue returns the index just past the JSON value starting at data[i].
func scanValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, fmt.Errorf("missing value at offset %d", i)
	}
	switch data[i] {
	case '"':
		return scanString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := scanString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unterminated value at offset %d", i)
	}
	j := i
	for j < len(data) {
		switch data[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return 0, fmt.Errorf("unexpected %q at offset %d", data[j], j)
			}
			return j, nil
		}
		j++
	}
	return j, nil
}

// eachMember calls fn with each key and raw value of the JSON object data.
func eachMember(data []byte, fn func(key string, raw []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return &PathError{Msg: "want object, got " + kindOf(data)}
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return trailing(data, i+1)
	}
	for {
		if i >= len(data) || data[i] != '"' {
			return &PathError{Msg: fmt.Sprintf("invalid JSON object: want a key at offset %d", i)}
		}
		end, err := scanString(data, i)
		if err != nil {
			return &PathError{Msg: "invalid JSON object: " + err.Error()}
		}
		key, ok := plainString(data[i:end])
		if !ok {
			if err := json.Unmarshal(data[i:end], &key); err != nil {
				return &PathError{Msg: "invalid JSON object key: " + err.Error()}
			}
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return &PathError{Msg: fmt.Sprintf("invalid JSON object: want ':' at offset %d", i)}
		}
		i = skipSpace(data, i+1)
		vend, err := scanValue(data, i)
		if err != nil {
			return &PathError{Path: Key(key), Msg: "invalid JSON value: " + err.Error()}
		}
		if err := fn(key, data[i:vend]); err != nil {
			return err
		}
		i = skipSpace(data, vend)
		if i < len(data) && data[i] == ',' {
			i = skipSpace(data, i+1)
			continue
		}
		if i < len(data) && data[i] == '}' {
			return trailing(data, i+1)
		}
		return &PathError{Msg: fmt.Sprintf("invalid JSON object: want ',' or '}' at offset %d", i)}
	}
}

// arrayItems splits the JSON array raw into its raw elements.
func arrayItems(raw []byte) ([][]byte, error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '[' {
		return nil, &PathError{Msg: "want array, got " + kindOf(raw)}
	}
	var items [][]byte
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == ']' {
		return items, trailing(raw, i+1)
	}
	for {
		end, err := scanValue(raw, i)
		if err != nil {
			return nil, &PathError{Path: Index(len(items)), Msg: "invalid JSON value: " + err.Error()}
		}
		items = append(items, raw[i:end])
		i = skipSpace(raw, end)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == ']' {
			return items, trailing(raw, i+1)
		}
		return nil, &PathError{Msg: fmt.Sprintf("invalid JSON array: want ',' or ']' at offset %d", i)}
	}
}

func trailing(data []byte, i int) error {
	if skipSpace(data, i) != len(data) {
		return &PathError{Msg: fmt.Sprintf("invalid JSON: unexpected data at offset %d", i)}
	}
	return nil
}
