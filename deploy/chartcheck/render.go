// Package chartcheck owns the offline validation of Laurel's Helm chart (deploy/helm/laurel):
// it lints and renders the chart with Helm's own Go SDK, exactly as `helm lint` and
// `helm template` do, decodes every rendered object strictly into the Kubernetes API types
// (unknown or duplicate fields are errors), validates custom resources against their
// vendored CRD schemas, and checks the deployment policy every Laurel workload must meet.
// Nothing here touches the network or a cluster.
//
// Dependencies, and why: helm.sh/helm/v4 renders and lints the chart with the code Helm
// itself runs; k8s.io/api, k8s.io/apimachinery and k8s.io/client-go (its scheme) are the
// types rendered objects must decode into; k8s.io/apiextensions-apiserver reads the CRDs
// of KEDA and the Prometheus Operator; github.com/laurel-badges/laurel/platform (its config
// package, standard library only) supplies the flag names, so the chart cannot set an
// environment variable the binary never reads.
//
// Every function is safe for concurrent use.
package chartcheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	release "helm.sh/helm/v4/pkg/release/v1"
)

// Options say how to render or lint a chart, as the matching `helm template` flags would.
type Options struct {
	// ReleaseName is the release name; empty means "laurel".
	ReleaseName string
	// Namespace is the release namespace; empty means "laurel".
	Namespace string
	// ValuesFiles are merged in order over the chart's values.yaml, like -f.
	ValuesFiles []string
	// Set holds "path=value" overrides applied last, like --set.
	Set []string
	// KubeVersion is the cluster version the chart is rendered for, like --kube-version;
	// empty means Helm's default.
	KubeVersion string
}

func (o Options) release() (name, namespace string) {
	name, namespace = o.ReleaseName, o.Namespace
	if name == "" {
		name = "laurel"
	}
	if namespace == "" {
		namespace = "laurel"
	}
	return name, namespace
}

func (o Options) values() (map[string]any, error) {
	// No getter providers: value files are read from the local disk only, never fetched.
	vals, err := (&values.Options{ValueFiles: o.ValuesFiles, Values: o.Set}).MergeValues(nil)
	if err != nil {
		return nil, fmt.Errorf("merge values: %w", err)
	}
	return vals, nil
}

func (o Options) kubeVersion() (*common.KubeVersion, error) {
	if o.KubeVersion == "" {
		return nil, nil
	}
	kv, err := common.ParseKubeVersion(o.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kube version %q: %w", o.KubeVersion, err)
	}
	return kv, nil
}

// Render renders the chart in chartDir like `helm template` (client-side only, hooks
// included) and returns the manifest: YAML documents separated by "---", each preceded by a
// "# Source: <template>" comment. Errors name the failing template or value.
func Render(ctx context.Context, chartDir string, o Options) (string, error) {
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		return "", fmt.Errorf("load chart %s: %w", chartDir, err)
	}
	vals, err := o.values()
	if err != nil {
		return "", err
	}
	kv, err := o.kubeVersion()
	if err != nil {
		return "", err
	}
	name, namespace := o.release()

	// Helm logs through slog; its chatter is not ours to print.
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(slog.NewTextHandler(io.Discard, nil)))
	install := action.NewInstall(cfg)
	install.DryRunStrategy = action.DryRunClient
	install.ReleaseName = name
	install.Namespace = namespace
	install.Replace = true
	install.KubeVersion = kv
	rel, err := install.RunWithContext(ctx, ch, vals)
	if err != nil {
		return "", fmt.Errorf("render chart %s: %w", chartDir, err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return "", fmt.Errorf("render chart %s: unexpected release type %T", chartDir, rel)
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(r.Manifest))
	for _, h := range r.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String(), nil
}

// Finding is one lint message at warning level or above.
type Finding struct {
	Severity string // "WARNING" or "ERROR"
	Path     string // the chart file it is about
	Err      error
}

func (f Finding) String() string { return fmt.Sprintf("[%s] %s: %v", f.Severity, f.Path, f.Err) }

// Lint runs Helm's chart linter (the rules of `helm lint`, including the values schema and
// deprecated API checks) on chartDir with o's values, and returns every warning and error,
// as `helm lint --strict` would fail on them. Informational messages are dropped. The error
// is non-nil only when the linter could not run.
func Lint(chartDir string, o Options) ([]Finding, error) {
	vals, err := o.values()
	if err != nil {
		return nil, err
	}
	kv, err := o.kubeVersion()
	if err != nil {
		return nil, err
	}
	_, namespace := o.release()
	var opts []lint.LinterOption
	if kv != nil {
		opts = append(opts, lint.WithKubeVersion(kv))
	}
	res := lint.RunAll(chartDir, vals, namespace, opts...)
	var out []Finding
	for _, m := range res.Messages {
		if m.Severity < support.WarningSev {
			continue
		}
		sev := "WARNING"
		if m.Severity >= support.ErrorSev {
			sev = "ERROR"
		}
		out = append(out, Finding{Severity: sev, Path: m.Path, Err: m.Err})
	}
	return out, nil
}
