package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// outputFormats are the values of --output: table for people, json and yaml for scripts.
// Dependency: go.yaml.in/yaml/v3 (already used for rule files) renders yaml, so no new module.
var outputFormats = []string{"table", "json", "yaml"}

const outputUsage = "output format: table, json or yaml (json is the API's JSON, yaml the same document)"

// validateOutput turns an unknown --output into a usage error (exit 2) before any call is made.
func validateOutput(format string) error {
	if !slices.Contains(outputFormats, format) {
		return usagef("--output must be %s, got %q", strings.Join(outputFormats, ", "), format)
	}
	return nil
}

// printMessage prints a response as json (protojson, the HTTP gateway's shape) or yaml. yaml is
// derived from the json so both carry the same field names, enum strings and int64-as-string.
func printMessage(w io.Writer, format string, m proto.Message) error {
	if format == "json" {
		return printJSON(w, m)
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return printYAML(w, b)
}

// printValue is printMessage for values that are not protos (local files such as laurel dev's
// mailbox); table output stays with the caller.
func printValue(w io.Writer, format string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	if format == "json" {
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	return printYAML(w, b)
}

// printYAML re-encodes a JSON document as block-style YAML. Decoding into a yaml.Node (JSON is
// YAML) keeps the fields in the JSON's order, which a map would shuffle.
func printYAML(w io.Writer, jsonDoc []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(jsonDoc, &doc); err != nil {
		return fmt.Errorf("convert output to yaml: %w", err)
	}
	blockStyle(&doc)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return fmt.Errorf("write yaml: %w", err)
	}
	return enc.Close()
}

// blockStyle drops the flow style and quotes the JSON parse left on every node; the encoder
// still quotes strings that would otherwise read back as another type ("123", "true").
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
