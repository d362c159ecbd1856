package chartcheck_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/laurel-badges/laurel/deploy/chartcheck"
)

// TestCheckCatches breaks one thing in the chart's real (production) rendering at a time
// and expects exactly the violations that break should cause: proof that each rule can
// fail, and that it blames the right object.
func TestCheckCatches(t *testing.T) {
	t.Parallel()
	container := func(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }
	onDeployment := func(name string, f func(d *appsv1.Deployment)) func([]chartcheck.Object) []chartcheck.Object {
		return func(objs []chartcheck.Object) []chartcheck.Object {
			for _, o := range objs {
				if d, ok := o.Typed.(*appsv1.Deployment); ok && d.Name == name {
					f(d)
				}
			}
			return objs
		}
	}
	without := func(kind, name string) func([]chartcheck.Object) []chartcheck.Object {
		return func(objs []chartcheck.Object) []chartcheck.Object {
			var out []chartcheck.Object
			for _, o := range objs {
				if o.GVK.Kind != kind || o.Name != name {
					out = append(out, o)
				}
			}
			return out
		}
	}
	v := func(object, rule string) chartcheck.Violation {
		return chartcheck.Violation{Object: object, Rule: rule}
	}
	const issuerC = "Deployment/laurel-issuer container issuer"
	tests := []struct {
		name    string
		breakIt func([]chartcheck.Object) []chartcheck.Object
		want    []chartcheck.Violation
	}{
		{"no readiness probe", onDeployment("laurel-issuer", func(d *appsv1.Deployment) { container(d).ReadinessProbe = nil }),
			[]chartcheck.Violation{v(issuerC, chartcheck.RuleProbes)}},
		{"HTTP instead of gRPC liveness", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).LivenessProbe.GRPC = nil
			container(d).LivenessProbe.HTTPGet = &corev1.HTTPGetAction{Path: "/healthz"}
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleGRPCProbes)}},
		{"readiness on the whole server", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).ReadinessProbe.GRPC.Service = ptr.To("")
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleGRPCProbes)}},
		{"no memory limit", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			delete(container(d).Resources.Limits, corev1.ResourceMemory)
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleResources)}},
		{"zero cpu request", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("0")
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleResources)}},
		{"root allowed in pod and container", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.RunAsNonRoot = nil
			d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = ptr.To(false)
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleNonRoot)}},
		{"uid 0", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.RunAsUser = ptr.To[int64](0)
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleNonRoot)}},
		{"writable root", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.ReadOnlyRootFilesystem = nil
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleReadOnlyRoot)}},
		{"privilege escalation unset", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.AllowPrivilegeEscalation = nil
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleNoEscalation)}},
		{"privileged", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.Privileged = ptr.To(true)
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleNoEscalation)}},
		{"a capability added", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_BIND_SERVICE"}
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleDropAll)}},
		{"seccomp unconfined, pod default removed", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			container(d).SecurityContext.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
			d.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
		}), []chartcheck.Violation{v(issuerC, chartcheck.RuleSeccomp)}},
		{"service account token mounted", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.AutomountServiceAccountToken = nil
		}), []chartcheck.Violation{v("Deployment/laurel-issuer", chartcheck.RuleNoSAToken)}},
		{"an insecure init container", onDeployment("laurel-issuer", func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "wait", Image: "busybox"}}
		}), []chartcheck.Violation{
			v("Deployment/laurel-issuer container wait", chartcheck.RuleDropAll),
			v("Deployment/laurel-issuer container wait", chartcheck.RuleNoEscalation),
			v("Deployment/laurel-issuer container wait", chartcheck.RuleReadOnlyRoot),
			v("Deployment/laurel-issuer container wait", chartcheck.RuleResources),
		}},
		{"PDB missing", without("PodDisruptionBudget", "laurel-notifier"),
			[]chartcheck.Violation{v("Deployment/laurel-notifier", chartcheck.RulePDB)}},
		{"PDB selecting nothing", func(objs []chartcheck.Object) []chartcheck.Object {
			for _, o := range objs {
				if p, ok := o.Typed.(*policyv1.PodDisruptionBudget); ok && p.Name == "laurel-rules" {
					p.Spec.Selector.MatchLabels["app.kubernetes.io/component"] = "rule"
				}
			}
			return objs
		}, []chartcheck.Violation{
			v("Deployment/laurel-rules", chartcheck.RulePDB),
			v("PodDisruptionBudget/laurel-rules", chartcheck.RuleSelectorMatches),
		}},
		{"NetworkPolicy missing", without("NetworkPolicy", "laurel-verifier"),
			[]chartcheck.Violation{v("Deployment/laurel-verifier", chartcheck.RuleNetworkPolicy)}},
		{"NetworkPolicy without egress", func(objs []chartcheck.Object) []chartcheck.Object {
			for _, o := range objs {
				if np, ok := o.Typed.(*networkingv1.NetworkPolicy); ok && np.Name == "laurel-verifier" {
					np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
				}
			}
			return objs
		}, []chartcheck.Violation{v("Deployment/laurel-verifier", chartcheck.RuleNetworkPolicy)}},
		{"HPA missing", without("HorizontalPodAutoscaler", "laurel-issuer"),
			[]chartcheck.Violation{v("Deployment/laurel-issuer", chartcheck.RuleAutoscaler)}},
		{"ScaledObject missing", without("ScaledObject", "laurel-rules"),
			[]chartcheck.Violation{v("Deployment/laurel-rules", chartcheck.RuleAutoscaler)}},
		{"Deployment gone: its Service, PDB, HPA dangle", without("Deployment", "laurel-issuer"), []chartcheck.Violation{
			v("HorizontalPodAutoscaler/laurel-issuer", chartcheck.RuleDanglingRef),
			v("PodDisruptionBudget/laurel-issuer", chartcheck.RuleSelectorMatches),
			v("Service/laurel-issuer", chartcheck.RuleSelectorMatches),
		}},
		{"ScaledObject and HPA on rules", func(objs []chartcheck.Object) []chartcheck.Object {
			for _, o := range objs {
				if so, ok := o.Typed.(*unstructured.Unstructured); ok && o.GVK.Kind == "ScaledObject" {
					_ = unstructured.SetNestedField(so.Object, "laurel-issuer", "spec", "scaleTargetRef", "name")
				}
			}
			return objs
		}, []chartcheck.Violation{
			v("Deployment/laurel-issuer", chartcheck.RuleAutoscaler),
			v("Deployment/laurel-rules", chartcheck.RuleAutoscaler),
		}},
		{"Ingress to a missing Service", without("Service", "laurel-verifier"), []chartcheck.Violation{
			v("Ingress/laurel", chartcheck.RuleDanglingRef),
		}},
		{"ServiceMonitor on a port that is not there", func(objs []chartcheck.Object) []chartcheck.Object {
			for _, o := range objs {
				if so, ok := o.Typed.(*unstructured.Unstructured); ok && o.GVK.Kind == "ServiceMonitor" {
					_ = unstructured.SetNestedSlice(so.Object, []any{map[string]any{"port": "metrics"}}, "spec", "endpoints")
				}
			}
			return objs
		}, []chartcheck.Violation{
			v("ServiceMonitor/laurel", chartcheck.RuleDanglingRef),
			v("ServiceMonitor/laurel", chartcheck.RuleDanglingRef),
			v("ServiceMonitor/laurel", chartcheck.RuleDanglingRef),
			v("ServiceMonitor/laurel", chartcheck.RuleDanglingRef),
		}},
	}
	ignoreDetail := cmpopts.IgnoreFields(chartcheck.Violation{}, "Detail")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A fresh rendering per case: the break mutates the objects.
			objs := tc.breakIt(render(t, chartcheck.Options{ValuesFiles: []string{productionFile}}))
			if diff := cmp.Diff(tc.want, chartcheck.Check(objs), ignoreDetail); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckEnv(t *testing.T) {
	t.Parallel()
	objs := render(t, chartcheck.Options{Set: []string{"services.rules.extraEnv[0].name=LAUREL_REDIS_KEYPREFIX", "services.rules.extraEnv[0].value=x"}})
	got := chartcheck.CheckEnv(objs, chartcheck.EnvPrefix, chartcheck.KnownEnv)
	want := []chartcheck.Violation{{Object: "Deployment/laurel-rules container rules", Rule: chartcheck.RuleUnknownEnv}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(chartcheck.Violation{}, "Detail")); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}

	// The ConfigMap loaded with envFrom counts too, and must exist.
	for _, o := range objs {
		if cm, ok := o.Typed.(*corev1.ConfigMap); ok {
			cm.Data["LAUREL_NAT_URL"] = "nats://x:4222"
		}
	}
	got = chartcheck.CheckEnv(objs, chartcheck.EnvPrefix, chartcheck.KnownEnv)
	if n := strings.Count(strings.Join(violationStrings(got), "\n"), "LAUREL_NAT_URL"); n != 4 {
		t.Errorf("LAUREL_NAT_URL from the ConfigMap reported %d times, want once per service (4):\n%s", n, strings.Join(violationStrings(got), "\n"))
	}
}

func violationStrings(vs []chartcheck.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.String())
	}
	return out
}

// TestDecodeIsStrict: what the API server's strict field validation would refuse, the
// decoder refuses too, for built-in kinds and for custom resources alike.
func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	const deployment = `# Source: laurel/templates/x.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  selector:
    matchLabels: {a: b}
  template:
    metadata:
      labels: {a: b}
    spec:
      containers:
        - name: c
          image: i
`
	const scaledObject = `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: x
spec:
  scaleTargetRef:
    name: x
  triggers:
    - type: nats-jetstream
      metadata:
        stream: ACTIVITY
`
	tests := []struct {
		name     string
		manifest string
		want     string // substring of the error; empty: must decode
	}{
		{"valid Deployment", deployment, ""},
		{"valid ScaledObject", scaledObject, ""},
		{"empty documents are skipped", "---\n# Source: x\n---\n" + deployment, ""},
		{"unknown field in a container", strings.Replace(deployment, "image: i", "image: i\n          imagePolicy: Always", 1), `unknown field "spec.template.spec.containers[0].imagePolicy"`},
		{"field at the wrong level", strings.Replace(deployment, "  selector:", "  replica: 2\n  selector:", 1), `unknown field "spec.replica"`},
		{"duplicate field", strings.Replace(deployment, "image: i", "image: i\n          image: j", 1), `key "image" already set`},
		{"wrong type", strings.Replace(deployment, "spec:\n  selector", "spec:\n  replicas: two\n  selector", 1), "replicas"},
		{"error names the template", strings.Replace(deployment, "image: i", "image: i\n          imagePolicy: Always", 1), "laurel/templates/x.yaml"},
		{"unknown kind", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n", "no kind \"Widget\""},
		{"no kind", "metadata:\n  name: w\n", "no apiVersion or kind"},
		{"no name", "apiVersion: v1\nkind: ConfigMap\n", "metadata.name is empty"},
		{"same object twice", deployment + "---\n" + deployment, "also rendered by"},
		{"unknown field in a custom resource", strings.Replace(scaledObject, "  triggers:", "  maxReplicas: 3\n  triggers:", 1), "spec.maxReplicas: unknown field"},
		{"custom resource missing a required field", strings.Replace(scaledObject, "      metadata:\n        stream: ACTIVITY\n", "", 1), `required field "metadata" is missing`},
		{"custom resource wrong type", strings.Replace(scaledObject, "  triggers:", "  minReplicaCount: many\n  triggers:", 1), "spec.minReplicaCount: want an integer"},
		{"custom resource bad metadata", strings.Replace(scaledObject, "  name: x\n", "  name: x\n  label: {a: b}\n", 1), `metadata: json: unknown field "label"`},
		{"custom resource duplicate field", strings.Replace(scaledObject, "    name: x\n", "    name: x\n    name: y\n", 1), `key "name" already set`},
	}
	d, err := decoder()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := d.Decode(tc.manifest)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Decode: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Decode error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
