package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

func xapiCommand(g *globals) *ffcli.Command {
	mapping := &ffcli.Command{
		Name:        "mapping",
		ShortUsage:  "laurel xapi mapping set -f mapping.yaml | get",
		ShortHelp:   "the tenant's xAPI mapping: verb -> event type, actor -> recipient, statement fields -> event data",
		Subcommands: []*ffcli.Command{xapiMappingSet(g), xapiMappingGet(g)},
		Exec:        func(context.Context, []string) error { return usagef("xapi mapping needs a verb: set or get") },
	}
	return &ffcli.Command{
		Name:        "xapi",
		ShortUsage:  "laurel xapi mapping set|get, laurel xapi send -f statements.json",
		ShortHelp:   "report xAPI statements as activity, mapped to events by the tenant's xAPI mapping",
		Subcommands: []*ffcli.Command{mapping, xapiSend(g)},
		Exec:        func(context.Context, []string) error { return usagef("xapi needs a verb: mapping or send") },
	}
}

// readInput reads path, or stdin for "-".
func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// enumShortNames lets a mapping file say `unmapped_verb: ignore` for UNMAPPED_VERB_IGNORE.
var enumShortNames = map[string]string{"unmapped_verb": "UNMAPPED_VERB_", "unmappedVerb": "UNMAPPED_VERB_", "account_subject": "ACCOUNT_SUBJECT_", "accountSubject": "ACCOUNT_SUBJECT_"}

// readMappingFile reads an xAPI mapping in the API's JSON form, from YAML or JSON.
func readMappingFile(path string) (*rulesv1.XapiMapping, error) {
	raw, err := readInput(path)
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	if doc == nil {
		return nil, usagef("%s: the file holds no mapping", path)
	}
	for field, prefix := range enumShortNames {
		if s, ok := doc[field].(string); ok && !strings.HasPrefix(s, prefix) {
			doc[field] = prefix + strings.ToUpper(s)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	m := &rulesv1.XapiMapping{}
	if err := protojson.Unmarshal(b, m); err != nil {
		return nil, usagef("%s: %v", path, err)
	}
	return m, nil
}

func xapiMappingSet(g *globals) *ffcli.Command {
	var c clientFlags
	var file string
	fs := newFlagSet("laurel xapi mapping set")
	c.register(fs)
	fs.StringVar(&file, "f", "", "mapping file (YAML or JSON; - for stdin)")
	return &ffcli.Command{
		Name: "set", ShortUsage: "laurel xapi mapping set -f mapping.yaml",
		ShortHelp: "replace the tenant's xAPI mapping", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			m, err := readMappingFile(file)
			if err != nil {
				return err
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).SetXapiMapping(ctx, &rulesv1.SetXapiMappingRequest{Mapping: m})
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp.GetMapping())
				}
				g.printf("xAPI mapping set: %d verbs\n", len(resp.GetMapping().GetVerbTypes()))
				return nil
			})
		},
	}
}

func xapiMappingGet(g *globals) *ffcli.Command {
	var c clientFlags
	fs := newFlagSet("laurel xapi mapping get")
	c.register(fs)
	return &ffcli.Command{
		Name: "get", ShortUsage: "laurel xapi mapping get",
		ShortHelp: "show the tenant's xAPI mapping", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).GetXapiMapping(ctx, &rulesv1.GetXapiMappingRequest{})
				if err != nil {
					return err
				}
				m := resp.GetMapping()
				if c.output != "table" {
					return printMessage(g.stdout, c.output, m)
				}
				source := m.GetSource()
				if source == "" {
					source = "/xapi"
				}
				g.printf("source: %s\nunmapped verbs: %s\naccounts: %s\n\n", source,
					strings.ToLower(strings.TrimPrefix(m.GetUnmappedVerb().String(), "UNMAPPED_VERB_")),
					strings.ToLower(strings.TrimPrefix(m.GetAccountSubject().String(), "ACCOUNT_SUBJECT_")))
				var rows [][]string
				for _, verb := range slices.Sorted(maps.Keys(m.GetVerbTypes())) {
					rows = append(rows, []string{verb, m.GetVerbTypes()[verb]})
				}
				if err := printTable(g.stdout, []string{"VERB", "EVENT TYPE"}, rows); err != nil {
					return err
				}
				if len(m.GetData()) > 0 {
					rows = rows[:0]
					for _, name := range slices.Sorted(maps.Keys(m.GetData())) {
						rows = append(rows, []string{name, m.GetData()[name]})
					}
					g.printf("\n")
					return printTable(g.stdout, []string{"DATA", "STATEMENT PATH"}, rows)
				}
				return nil
			})
		},
	}
}

func xapiSend(g *globals) *ffcli.Command {
	var c clientFlags
	var file string
	fs := newFlagSet("laurel xapi send")
	c.register(fs)
	fs.StringVar(&file, "f", "", "statements file: one xAPI statement or a JSON array of them (- for stdin)")
	return &ffcli.Command{
		Name: "send", ShortUsage: "laurel xapi send -f statements.json",
		ShortHelp: "send xAPI statements, all or nothing, and print their ids", FlagSet: fs, Options: apiOptions(),
		Exec: func(ctx context.Context, _ []string) error {
			if file == "" {
				return usagef("-f FILE is required")
			}
			raw, err := readInput(file)
			if err != nil {
				return err
			}
			var doc any
			if err := json.Unmarshal(raw, &doc); err != nil {
				return usagef("%s is not JSON: %v", file, err)
			}
			list, ok := doc.([]any)
			if !ok {
				list = []any{doc}
			}
			req := &rulesv1.PublishXapiStatementsRequest{}
			for i, item := range list {
				obj, ok := item.(map[string]any)
				if !ok {
					return usagef("%s: statement %d is not a JSON object", file, i+1)
				}
				s, err := structpb.NewStruct(obj)
				if err != nil {
					return usagef("%s: statement %d: %v", file, i+1, err)
				}
				req.Statements = append(req.Statements, s)
			}
			return c.call(ctx, func(ctx context.Context, conn *grpc.ClientConn) error {
				resp, err := rulesv1.NewRulesServiceClient(conn).PublishXapiStatements(ctx, req)
				if err != nil {
					return err
				}
				if c.output != "table" {
					return printMessage(g.stdout, c.output, resp)
				}
				rows := make([][]string, len(resp.GetStatementIds()))
				for i, id := range resp.GetStatementIds() {
					state := "ignored (unmapped verb)"
					if r := resp.GetResults()[i]; r.GetId() != "" {
						state = fmt.Sprintf("accepted, stream sequence %d", r.GetStreamSequence())
						if r.GetDuplicate() {
							state = "duplicate (already accepted)"
						}
					}
					rows[i] = []string{id, state}
				}
				return printTable(g.stdout, []string{"STATEMENT", "RESULT"}, rows)
			})
		},
	}
}
