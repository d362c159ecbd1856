package chartcheck_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/laurel-badges/laurel/deploy/chartcheck"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	chartDir       = "../helm/laurel"
	productionFile = "../helm/laurel/values-production.yaml"
	// The oldest Kubernetes the chart supports (Chart.yaml kubeVersion): render for it,
	// so nothing newer sneaks in.
	minKube = "v1.30.0"
)

var decoder = sync.OnceValues(func() (*chartcheck.Decoder, error) {
	var crds [][]byte
	paths, err := filepath.Glob("testdata/crds/*.yaml")
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		crds = append(crds, b)
	}
	if len(crds) != 2 {
		return nil, fmt.Errorf("want the 2 vendored CRDs in testdata/crds, found %d", len(crds))
	}
	return chartcheck.NewDecoder(crds...)
})

// render renders the chart with o, decodes it strictly and fails the test on any error.
func render(t *testing.T, o chartcheck.Options) []chartcheck.Object {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if o.KubeVersion == "" {
		o.KubeVersion = minKube
	}
	manifest, err := chartcheck.Render(ctx, chartDir, o)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	d, err := decoder()
	if err != nil {
		t.Fatalf("NewDecoder: %v", err)
	}
	objs, err := d.Decode(manifest)
	if err != nil {
		t.Fatalf("Decode:\n%v", err)
	}
	return objs
}

func inventory(objs []chartcheck.Object) map[string][]string {
	inv := map[string][]string{}
	for _, o := range objs {
		inv[o.GVK.Kind] = append(inv[o.GVK.Kind], o.Name)
	}
	for _, names := range inv {
		sort.Strings(names)
	}
	return inv
}

func perService(prefix string, svcs ...string) []string {
	var out []string
	for _, s := range svcs {
		out = append(out, prefix+"-"+s)
	}
	return out
}

var all = []string{"issuer", "notifier", "rules", "verifier"}

func TestLint(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]chartcheck.Options{
		"default":    {},
		"production": {ValuesFiles: []string{productionFile}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			o.KubeVersion = minKube
			findings, err := chartcheck.Lint(chartDir, o)
			if err != nil {
				t.Fatalf("Lint: %v", err)
			}
			for _, f := range findings {
				t.Errorf("lint: %s", f)
			}
		})
	}
}

// TestChartMeetsPolicy renders the chart for every supported shape of values and checks
// that each rendering decodes strictly, meets the policy, sets only environment variables
// the binary reads, and contains exactly the objects that shape should have.
func TestChartMeetsPolicy(t *testing.T) {
	t.Parallel()
	base := map[string][]string{
		"ConfigMap":               {"laurel"},
		"Deployment":              perService("laurel", all...),
		"HorizontalPodAutoscaler": perService("laurel", all...),
		"NetworkPolicy":           perService("laurel", all...),
		"PodDisruptionBudget":     perService("laurel", all...),
		"Service":                 perService("laurel", all...),
		"ServiceAccount":          {"laurel"},
	}
	with := func(extra map[string][]string, drop ...string) map[string][]string {
		out := map[string][]string{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		for _, k := range drop {
			delete(out, k)
		}
		return out
	}
	production := with(map[string][]string{
		"HorizontalPodAutoscaler": perService("laurel", "issuer", "notifier", "verifier"),
		"Ingress":                 {"laurel"},
		"ScaledObject":            {"laurel-rules"},
		"ServiceMonitor":          {"laurel"},
	})
	tests := []struct {
		name string
		opts chartcheck.Options
		want map[string][]string
	}{
		{"default values", chartcheck.Options{}, base},
		{"production values", chartcheck.Options{ValuesFiles: []string{productionFile}}, production},
		{"production without KEDA: rules gets an HPA", chartcheck.Options{
			ValuesFiles: []string{productionFile}, Set: []string{"keda.enabled=false"},
		}, with(map[string][]string{"Ingress": {"laurel"}, "ServiceMonitor": {"laurel"}})},
		{"inline secrets make a chart Secret", chartcheck.Options{Set: []string{
			"masterKey.value=m", "redis.password.value=p", "nats.credentials.enabled=true", "nats.credentials.value=c",
		}}, with(map[string][]string{"Secret": {"laurel-secrets"}})},
		{"release name containing the chart name", chartcheck.Options{ReleaseName: "laurel-prod"}, func() map[string][]string {
			m := map[string][]string{}
			for k, v := range base {
				m[k] = slices.Clone(v)
				for i := range m[k] {
					m[k][i] = strings.Replace(m[k][i], "laurel", "laurel-prod", 1)
				}
			}
			return m
		}()},
		{"autoscaling off, ingress on", chartcheck.Options{Set: []string{
			"services.notifier.autoscaling.enabled=false", "ingress.enabled=true",
		}}, nil}, // a Deployment without autoscaler breaks the policy: checked below
		{"one service disabled", chartcheck.Options{Set: []string{"services.verifier.enabled=false"}},
			func() map[string][]string {
				m := map[string][]string{}
				for k, v := range base {
					m[k] = slices.DeleteFunc(slices.Clone(v), func(s string) bool { return s == "laurel-verifier" })
				}
				return m
			}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.opts)
			violations := chartcheck.Check(objs)
			violations = append(violations, chartcheck.CheckEnv(objs, chartcheck.EnvPrefix, chartcheck.KnownEnv)...)
			if tc.want == nil {
				// Without an autoscaler the notifier must be reported, and nothing else.
				want := []chartcheck.Violation{{Object: "Deployment/laurel-notifier", Rule: chartcheck.RuleAutoscaler}}
				if diff := cmp.Diff(want, violations, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Detail" }, cmp.Ignore())); diff != "" {
					t.Errorf("violations (-want +got):\n%s", diff)
				}
				return
			}
			for _, v := range violations {
				t.Errorf("policy: %s", v)
			}
			if diff := cmp.Diff(tc.want, inventory(objs)); diff != "" {
				t.Errorf("rendered objects (-want +got):\n%s", diff)
			}
		})
	}
}

func find[T any](t *testing.T, objs []chartcheck.Object, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.GVK.Kind == kind && o.Name == name {
			v, ok := o.Typed.(T)
			if !ok {
				t.Fatalf("%s/%s is a %T", kind, name, o.Typed)
			}
			return v
		}
	}
	var zero T
	t.Fatalf("%s/%s is not rendered", kind, name)
	return zero
}

func envOf(c corev1.Container) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			out[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			out[e.Name] = "field:" + e.ValueFrom.FieldRef.FieldPath
		default:
			out[e.Name] = e.Value
		}
	}
	return out
}

// TestProductionWiring checks what the policy cannot know: that each service gets the
// secrets, probes, arguments and scaling it needs, and nothing it does not.
func TestProductionWiring(t *testing.T) {
	t.Parallel()
	objs := render(t, chartcheck.Options{ValuesFiles: []string{productionFile}})

	common := map[string]string{
		"LAUREL_NATS_NAME":      "field:metadata.name",
		"LAUREL_NATS_CREDS":     "/etc/laurel/nats/nats.creds",
		"LAUREL_REDIS_PASSWORD": "secret:laurel-redis/password",
	}
	for _, svc := range all {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			d := find[*appsv1.Deployment](t, objs, "Deployment", "laurel-"+svc)
			if d.Spec.Replicas != nil {
				t.Errorf("replicas = %d, want unset: an autoscaler owns it", *d.Spec.Replicas)
			}
			if len(d.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("want one container, got %d", len(d.Spec.Template.Spec.Containers))
			}
			c := d.Spec.Template.Spec.Containers[0]
			if diff := cmp.Diff([]string{svc}, c.Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
			want := map[string]string{"LAUREL_SERVICE_NAME": "laurel-" + svc}
			for k, v := range common {
				want[k] = v
			}
			if svc == "issuer" || svc == "notifier" {
				want["LAUREL_MASTER_KEY"] = "secret:laurel-master-key/master-key"
			}
			if diff := cmp.Diff(want, envOf(c)); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			wantHealth := fmt.Sprintf("laurel.%s.v1.%sService", svc, strings.ToUpper(svc[:1])+svc[1:])
			if got := c.ReadinessProbe.GRPC.Service; got == nil || *got != wantHealth {
				t.Errorf("readiness gRPC service = %v, want %q", got, wantHealth)
			}
			if got := c.LivenessProbe.GRPC.Service; got != nil && *got != "" {
				t.Errorf("liveness gRPC service = %q, want the whole server (\"\"): a lost dependency must not restart pods", *got)
			}
			mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/etc/laurel/nats" && m.ReadOnly })
			if !mounted {
				t.Errorf("NATS credentials are not mounted read-only at /etc/laurel/nats")
			}
			np := find[*networkingv1.NetworkPolicy](t, objs, "NetworkPolicy", "laurel-"+svc)
			internet := slices.ContainsFunc(np.Spec.Egress, func(r networkingv1.NetworkPolicyEgressRule) bool {
				return slices.ContainsFunc(r.To, func(p networkingv1.NetworkPolicyPeer) bool { return p.IPBlock != nil && p.IPBlock.CIDR == "0.0.0.0/0" })
			})
			if wantInternet := svc == "notifier" || svc == "verifier"; internet != wantInternet {
				t.Errorf("egress to the internet = %t, want %t", internet, wantInternet)
			}
		})
	}

	t.Run("ScaledObject scales rules on every partition's consumer lag", func(t *testing.T) {
		t.Parallel()
		so := find[*unstructured.Unstructured](t, objs, "ScaledObject", "laurel-rules")
		triggers, _, err := unstructured.NestedSlice(so.Object, "spec", "triggers")
		if err != nil {
			t.Fatal(err)
		}
		var consumers, want []string
		for i, tr := range triggers {
			m := tr.(map[string]any)
			md := m["metadata"].(map[string]any)
			if m["type"] != "nats-jetstream" || md["stream"] != "ACTIVITY" {
				t.Errorf("trigger %d = %v, want a nats-jetstream trigger on ACTIVITY", i, m)
			}
			consumers = append(consumers, md["consumer"].(string))
			want = append(want, fmt.Sprintf("rules-p%d", i))
		}
		if len(want) != 16 {
			t.Errorf("got %d triggers, want one per partition (16)", len(want))
		}
		if diff := cmp.Diff(want, consumers); diff != "" {
			t.Errorf("consumers (-want +got):\n%s", diff)
		}
		// The scaling modifier must add up every trigger, or lag in the partitions it
		// leaves out would never scale anything.
		formula, _, _ := unstructured.NestedString(so.Object, "spec", "advanced", "scalingModifiers", "formula")
		var names []string
		for i := range triggers {
			names = append(names, fmt.Sprintf("p%d", i))
			if got := triggers[i].(map[string]any)["name"]; got != names[i] {
				t.Errorf("trigger %d is named %v, want %q", i, got, names[i])
			}
		}
		if want := strings.Join(names, " + "); formula != want {
			t.Errorf("scalingModifiers.formula = %q, want %q", formula, want)
		}
	})
}

// TestRenderRefusesBrokenValues: settings that would deploy something broken stop the
// render with a message saying which value to fix.
func TestRenderRefusesBrokenValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  []string
		want string
	}{
		// Caught by values.schema.json, before any template runs.
		{"misspelt key", []string{"serviceMonitor.enable=true"}, "additional properties 'enable' not allowed"},
		{"unknown service", []string{"services.scheduler.enabled=true"}, "additional properties 'scheduler' not allowed"},
		{"bad pull policy", []string{"image.pullPolicy=Sometimes"}, "/image/pullPolicy"},
		{"ingress to a private service", []string{"ingress.enabled=true", "ingress.hosts[0].paths[0].service=rules"}, "/ingress/hosts/0/paths/0/service"},
		{"no NATS URL", []string{"nats.url="}, "/nats/url"},
		{"zero partitions", []string{"partitions=0"}, "/partitions"},
		// Caught by the chart's own checks: relations between values.
		{"more rules replicas than partitions", []string{"partitions=4"}, "services.rules.autoscaling.maxReplicas must not exceed partitions"},
		{"more KEDA replicas than partitions", []string{"keda.enabled=true", "keda.maxReplicaCount=9"}, "keda.maxReplicaCount must not exceed partitions"},
		{"grace period shorter than the drain", []string{"terminationGracePeriodSeconds=20"}, "terminationGracePeriodSeconds must exceed"},
		{"NATS credentials from nowhere", []string{"nats.credentials.enabled=true"}, "nats.credentials.enabled needs"},
		{"ingress without hosts", []string{"ingress.enabled=true", "ingress.hosts=null"}, "ingress.enabled needs at least one"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := chartcheck.Render(ctx, chartDir, chartcheck.Options{Set: tc.set, KubeVersion: minKube})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Render(%v) error = %v, want one containing %q", tc.set, err, tc.want)
			}
		})
	}
}

// TestRenderRefusesOldKubernetes: native gRPC probes and the preStop sleep action need
// Kubernetes 1.30; older clusters get a clear refusal rather than pods that never start.
func TestRenderRefusesOldKubernetes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := chartcheck.Render(ctx, chartDir, chartcheck.Options{KubeVersion: "v1.29.9"})
	if err == nil || !strings.Contains(err.Error(), "requires kubeVersion") {
		t.Errorf("Render for Kubernetes 1.29 error = %v, want a kubeVersion refusal", err)
	}
}
