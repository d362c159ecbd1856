// Command apiref writes docs/reference/api.md from the FileDescriptorSet on standard input
// (`buf build --as-file-descriptor-set -o -`, run from proto/). `make generate-docs` runs it.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/laurel-badges/laurel/cmd/laurel/internal/docgen"
)

func main() {
	out := flag.String("o", "", "file to write (default: standard output)")
	prefix := flag.String("prefix", "laurel/", "document the proto files under this path")
	flag.Parse()
	if err := run(*out, *prefix); err != nil {
		fmt.Fprintf(os.Stderr, "apiref: %v\n", err)
		os.Exit(1)
	}
}

func run(out, prefix string) error {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		return fmt.Errorf("read descriptor set: %w", err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		return fmt.Errorf("decode descriptor set: %w", err)
	}
	page, err := docgen.API(&set, prefix)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = os.Stdout.Write(page)
		return err
	}
	// Written only once the page is complete, so a failed run never truncates the file.
	return os.WriteFile(out, page, 0o644)
}
