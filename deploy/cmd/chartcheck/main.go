// Command chartcheck is `helm lint` and `helm template` for Laurel's chart without a helm
// binary: it runs Helm's Go SDK offline, then decodes the rendered objects strictly and
// checks Laurel's deployment policy.
//
//	chartcheck lint     [-f values.yaml]... [--set k=v]... [chart-dir]
//	chartcheck template [-f values.yaml]... [--set k=v]... [chart-dir]
//	chartcheck check    [-f values.yaml]... [--set k=v]... [--crds dir] [chart-dir]
//
// lint prints warnings and errors (exit 1 if any); template prints the manifest; check
// prints policy violations (exit 1 if any). Exit status 2 means a usage error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/laurel-badges/laurel/deploy/chartcheck"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	var u usageError
	switch {
	case errors.As(err, &u):
		fmt.Fprintln(os.Stderr, "chartcheck:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "chartcheck:", err)
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return usageError{"want a command: lint, template or check"}
	}
	cmd := args[0]
	fs := flag.NewFlagSet("chartcheck "+cmd, flag.ContinueOnError)
	var o chartcheck.Options
	var files, sets listFlag
	fs.Var(&files, "f", "values file, merged in order (repeatable)")
	fs.Var(&sets, "set", "path=value override, applied last (repeatable)")
	fs.StringVar(&o.ReleaseName, "release", "laurel", "release name")
	fs.StringVar(&o.Namespace, "namespace", "laurel", "release namespace")
	fs.StringVar(&o.KubeVersion, "kube-version", "v1.30.0", "Kubernetes version to render for")
	crdDir := fs.String("crds", "deploy/chartcheck/testdata/crds", "directory of CRDs for custom resources (check)")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	o.ValuesFiles, o.Set = files, sets
	dir := "deploy/helm/laurel"
	switch fs.NArg() {
	case 0:
	case 1:
		dir = fs.Arg(0)
	default:
		return usageError{fmt.Sprintf("want at most one chart directory, got %q", fs.Args())}
	}

	switch cmd {
	case "lint":
		findings, err := chartcheck.Lint(dir, o)
		if err != nil {
			return err
		}
		for _, f := range findings {
			fmt.Fprintln(out, f)
		}
		if len(findings) > 0 {
			return fmt.Errorf("lint %s: %d finding(s)", dir, len(findings))
		}
		fmt.Fprintf(out, "lint %s: ok\n", dir)
		return nil
	case "template":
		manifest, err := chartcheck.Render(ctx, dir, o)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, manifest)
		return err
	case "check":
		manifest, err := chartcheck.Render(ctx, dir, o)
		if err != nil {
			return err
		}
		paths, err := filepath.Glob(filepath.Join(*crdDir, "*.yaml"))
		if err != nil {
			return fmt.Errorf("list CRDs: %w", err)
		}
		var crds [][]byte
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return fmt.Errorf("read CRD: %w", err)
			}
			crds = append(crds, b)
		}
		d, err := chartcheck.NewDecoder(crds...)
		if err != nil {
			return err
		}
		objs, err := d.Decode(manifest)
		if err != nil {
			return err
		}
		violations := append(chartcheck.Check(objs), chartcheck.CheckEnv(objs, chartcheck.EnvPrefix, chartcheck.KnownEnv)...)
		for _, v := range violations {
			fmt.Fprintln(out, v)
		}
		if len(violations) > 0 {
			return fmt.Errorf("check %s: %d violation(s)", dir, len(violations))
		}
		fmt.Fprintf(out, "check %s: %d objects decoded strictly, policy ok\n", dir, len(objs))
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q: want lint, template or check", cmd)}
	}
}
