package chartcheck

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Violation is one broken policy rule.
type Violation struct {
	Object string // Kind/name of the offending object
	Rule   string // short, stable rule name, e.g. "read-only-root"
	Detail string
}

func (v Violation) String() string { return fmt.Sprintf("%s: %s: %s", v.Object, v.Rule, v.Detail) }

// Rule names, stable so that tests and readers can refer to them.
const (
	RuleProbes          = "probes"           // long-running containers have readiness and liveness probes
	RuleGRPCProbes      = "grpc-probes"      // Laurel services probe grpc.health.v1 on the api port
	RuleResources       = "resources"        // cpu and memory requests, a memory limit
	RuleNonRoot         = "non-root"         // runAsNonRoot
	RuleReadOnlyRoot    = "read-only-root"   // readOnlyRootFilesystem
	RuleNoEscalation    = "no-escalation"    // allowPrivilegeEscalation false, not privileged
	RuleDropAll         = "drop-all"         // capabilities drop ALL, add nothing
	RuleSeccomp         = "seccomp"          // seccomp RuntimeDefault (or Localhost)
	RuleNoSAToken       = "no-sa-token"      // no service account token mounted
	RulePDB             = "pdb"              // exactly one PodDisruptionBudget selects the pods
	RuleNetworkPolicy   = "network-policy"   // a NetworkPolicy with Ingress and Egress selects the pods
	RuleAutoscaler      = "autoscaler"       // a Deployment has exactly one HPA or ScaledObject
	RuleDanglingRef     = "dangling-ref"     // a reference to an object that is not rendered
	RuleSelectorMatches = "selector-matches" // a Service or PDB selects some workload
)

type workload struct {
	obj      Object
	kind     string
	name     string
	template corev1.PodTemplateSpec
	longRun  bool // Jobs end; everything else must be probed
}

// Check applies Laurel's deployment policy to every object of one rendered release and
// returns the violations, sorted. Every workload (Deployment, StatefulSet, DaemonSet, Job,
// CronJob) must have probes (long-running ones), resources, the restricted security
// context, no service account token, exactly one PodDisruptionBudget and a NetworkPolicy
// covering both directions; every Deployment exactly one autoscaler (HPA or KEDA
// ScaledObject); Laurel's own containers native gRPC probes on their api port; and no
// Service, PDB, HPA, ScaledObject, Ingress or ServiceMonitor may point at nothing.
func Check(objs []Object) []Violation {
	var (
		out       []Violation
		workloads []workload
		pdbs      []*policyv1.PodDisruptionBudget
		netpols   []*networkingv1.NetworkPolicy
		services  = map[string]*corev1.Service{}
		scalers   = map[string][]string{} // Deployment name -> scaler IDs
		scaledRef []Object
	)
	add := func(o, rule, format string, args ...any) {
		out = append(out, Violation{Object: o, Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *appsv1.Deployment:
			workloads = append(workloads, workload{o, "Deployment", t.Name, t.Spec.Template, true})
		case *appsv1.StatefulSet:
			workloads = append(workloads, workload{o, "StatefulSet", t.Name, t.Spec.Template, true})
		case *appsv1.DaemonSet:
			workloads = append(workloads, workload{o, "DaemonSet", t.Name, t.Spec.Template, true})
		case *batchv1.Job:
			workloads = append(workloads, workload{o, "Job", t.Name, t.Spec.Template, false})
		case *batchv1.CronJob:
			workloads = append(workloads, workload{o, "CronJob", t.Name, t.Spec.JobTemplate.Spec.Template, false})
		case *policyv1.PodDisruptionBudget:
			pdbs = append(pdbs, t)
		case *networkingv1.NetworkPolicy:
			netpols = append(netpols, t)
		case *corev1.Service:
			services[t.Name] = t
		case *autoscalingv2.HorizontalPodAutoscaler:
			ref := t.Spec.ScaleTargetRef
			if ref.Kind == "Deployment" {
				scalers[ref.Name] = append(scalers[ref.Name], o.ID())
			}
			scaledRef = append(scaledRef, o)
		case *unstructured.Unstructured:
			if o.GVK.Kind == "ScaledObject" {
				name, _, _ := unstructured.NestedString(t.Object, "spec", "scaleTargetRef", "name")
				kind, _, _ := unstructured.NestedString(t.Object, "spec", "scaleTargetRef", "kind")
				if kind == "" || kind == "Deployment" {
					scalers[name] = append(scalers[name], o.ID())
				}
				scaledRef = append(scaledRef, o)
			}
		}
	}

	deployments := map[string]bool{}
	for _, w := range workloads {
		id := w.obj.ID()
		if w.kind == "Deployment" {
			deployments[w.name] = true
			if n := len(scalers[w.name]); n != 1 {
				add(id, RuleAutoscaler, "want exactly one HorizontalPodAutoscaler or ScaledObject, got %d %v", n, scalers[w.name])
			}
		}
		checkPod(id, w, add)
		podLabels := labels.Set(w.template.Labels)
		var matched []string
		for _, p := range pdbs {
			if selects(p.Spec.Selector, podLabels) {
				matched = append(matched, "PodDisruptionBudget/"+p.Name)
			}
		}
		if w.longRun && len(matched) != 1 {
			add(id, RulePDB, "want exactly one PodDisruptionBudget selecting the pods, got %v", matched)
		}
		covered := false
		for _, np := range netpols {
			if selects(&np.Spec.PodSelector, podLabels) &&
				slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) &&
				slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
				covered = true
			}
		}
		if !covered {
			add(id, RuleNetworkPolicy, "no NetworkPolicy with policyTypes [Ingress Egress] selects the pods")
		}
	}

	selectsSomeWorkload := func(sel *metav1.LabelSelector) bool {
		for _, w := range workloads {
			if selects(sel, labels.Set(w.template.Labels)) {
				return true
			}
		}
		return false
	}
	for _, p := range pdbs {
		if !selectsSomeWorkload(p.Spec.Selector) {
			add("PodDisruptionBudget/"+p.Name, RuleSelectorMatches, "selects no workload's pods")
		}
	}
	for name, s := range services {
		if len(s.Spec.Selector) > 0 && !selectsSomeWorkload(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}) {
			add("Service/"+name, RuleSelectorMatches, "selects no workload's pods")
		}
	}
	for _, o := range scaledRef {
		var name string
		switch t := o.Typed.(type) {
		case *autoscalingv2.HorizontalPodAutoscaler:
			name = t.Spec.ScaleTargetRef.Name
		case *unstructured.Unstructured:
			name, _, _ = unstructured.NestedString(t.Object, "spec", "scaleTargetRef", "name")
		}
		if !deployments[name] {
			add(o.ID(), RuleDanglingRef, "scales Deployment %q, which is not rendered", name)
		}
	}
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *networkingv1.Ingress:
			for _, r := range t.Spec.Rules {
				if r.HTTP == nil {
					continue
				}
				for _, p := range r.HTTP.Paths {
					checkBackend(o.ID(), p.Backend, services, add)
				}
			}
			if t.Spec.DefaultBackend != nil {
				checkBackend(o.ID(), *t.Spec.DefaultBackend, services, add)
			}
		case *unstructured.Unstructured:
			if o.GVK.Kind == "ServiceMonitor" {
				checkServiceMonitor(o.ID(), t, services, add)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func checkPod(id string, w workload, add func(o, rule, format string, args ...any)) {
	spec := w.template.Spec
	psc := spec.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		add(id, RuleNoSAToken, "automountServiceAccountToken must be false")
	}
	containers := append(slices.Clone(spec.InitContainers), spec.Containers...)
	for _, c := range containers {
		cid := fmt.Sprintf("%s container %s", id, c.Name)
		sc := c.SecurityContext
		if sc == nil {
			sc = &corev1.SecurityContext{}
		}
		isInit := slices.ContainsFunc(spec.InitContainers, func(ic corev1.Container) bool { return ic.Name == c.Name })
		if w.longRun && !isInit {
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				add(cid, RuleProbes, "readinessProbe and livenessProbe are required")
			}
		}
		req, lim := c.Resources.Requests, c.Resources.Limits
		if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
			add(cid, RuleResources, "cpu and memory requests and a memory limit are required")
		}
		if !isTrue(sc.RunAsNonRoot) && !(sc.RunAsNonRoot == nil && isTrue(psc.RunAsNonRoot)) {
			add(cid, RuleNonRoot, "runAsNonRoot must be true (container or pod)")
		}
		if uid := firstNonNil(sc.RunAsUser, psc.RunAsUser); uid != nil && *uid == 0 {
			add(cid, RuleNonRoot, "runAsUser must not be 0")
		}
		if !isTrue(sc.ReadOnlyRootFilesystem) {
			add(cid, RuleReadOnlyRoot, "readOnlyRootFilesystem must be true")
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || isTrue(sc.Privileged) {
			add(cid, RuleNoEscalation, "allowPrivilegeEscalation must be false and privileged not true")
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
			add(cid, RuleDropAll, "capabilities must drop ALL and add none")
		}
		prof := sc.SeccompProfile
		if prof == nil {
			prof = psc.SeccompProfile
		}
		if prof == nil || (prof.Type != corev1.SeccompProfileTypeRuntimeDefault && prof.Type != corev1.SeccompProfileTypeLocalhost) {
			add(cid, RuleSeccomp, "seccompProfile must be RuntimeDefault or Localhost (container or pod)")
		}
		if isLaurel(c) && !isInit {
			checkGRPCProbes(cid, c, add)
		}
	}
}

// isLaurel reports whether c runs a Laurel service: it is the containers that expose an
// "api" port that must answer grpc.health.v1.
func isLaurel(c corev1.Container) bool {
	return slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "api" })
}

func checkGRPCProbes(cid string, c corev1.Container, add func(o, rule, format string, args ...any)) {
	var api int32
	for _, p := range c.Ports {
		if p.Name == "api" {
			api = p.ContainerPort
		}
	}
	for _, pr := range []struct {
		name  string
		probe *corev1.Probe
	}{{"readinessProbe", c.ReadinessProbe}, {"livenessProbe", c.LivenessProbe}} {
		if pr.probe == nil {
			continue // reported by RuleProbes
		}
		g := pr.probe.GRPC
		if g == nil || g.Port != api {
			add(cid, RuleGRPCProbes, "%s must be a native gRPC probe on the api port %d", pr.name, api)
			continue
		}
		if pr.name == "readinessProbe" && (g.Service == nil || *g.Service == "") {
			add(cid, RuleGRPCProbes, "readinessProbe must ask for the service's own health name, not the whole server")
		}
	}
}

func checkBackend(id string, b networkingv1.IngressBackend, services map[string]*corev1.Service, add func(o, rule, format string, args ...any)) {
	if b.Service == nil {
		return
	}
	s, ok := services[b.Service.Name]
	if !ok {
		add(id, RuleDanglingRef, "backend Service %q is not rendered", b.Service.Name)
		return
	}
	port := b.Service.Port
	if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool {
		return (port.Name != "" && p.Name == port.Name) || (port.Number != 0 && p.Port == port.Number)
	}) {
		add(id, RuleDanglingRef, "Service %q has no port %s", b.Service.Name, portString(port))
	}
}

func checkServiceMonitor(id string, sm *unstructured.Unstructured, services map[string]*corev1.Service, add func(o, rule, format string, args ...any)) {
	ml, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	sel := &metav1.LabelSelector{MatchLabels: ml}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	var selected []*corev1.Service
	for _, s := range services {
		if selects(sel, labels.Set(s.Labels)) {
			selected = append(selected, s)
		}
	}
	if len(selected) == 0 {
		add(id, RuleDanglingRef, "selects no rendered Service")
	}
	for _, e := range endpoints {
		em, _ := e.(map[string]any)
		port, _ := em["port"].(string)
		for _, s := range selected {
			if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port }) {
				add(id, RuleDanglingRef, "endpoint port %q is not a port of Service %q", port, s.Name)
			}
		}
	}
}

// selects reports whether sel matches set; a nil or invalid selector matches nothing,
// an empty one everything (as Kubernetes reads them).
func selects(sel *metav1.LabelSelector, set labels.Set) bool {
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(set)
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstNonNil[T any](ps ...*T) *T {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func portString(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// RuleUnknownEnv is broken by an environment variable that carries the binary's prefix but
// that the binary does not read: the binary ignores it silently, so a typo in the chart
// would otherwise deploy a setting that has no effect.
const RuleUnknownEnv = "unknown-env"

// CheckEnv reports every environment variable starting with prefix, set on a workload's
// containers directly or through a rendered ConfigMap they load with envFrom, for which
// known returns false; and every envFrom ConfigMap that is not rendered.
func CheckEnv(objs []Object, prefix string, known func(name string) bool) []Violation {
	configMaps := map[string]*corev1.ConfigMap{}
	type pod struct {
		id   string
		spec corev1.PodSpec
	}
	var pods []pod
	for _, o := range objs {
		switch t := o.Typed.(type) {
		case *corev1.ConfigMap:
			configMaps[t.Name] = t
		case *appsv1.Deployment:
			pods = append(pods, pod{o.ID(), t.Spec.Template.Spec})
		case *appsv1.StatefulSet:
			pods = append(pods, pod{o.ID(), t.Spec.Template.Spec})
		case *batchv1.Job:
			pods = append(pods, pod{o.ID(), t.Spec.Template.Spec})
		}
	}
	var out []Violation
	for _, p := range pods {
		for _, c := range append(slices.Clone(p.spec.InitContainers), p.spec.Containers...) {
			cid := fmt.Sprintf("%s container %s", p.id, c.Name)
			var names []string
			for _, e := range c.Env {
				names = append(names, e.Name)
			}
			for _, ef := range c.EnvFrom {
				if ef.ConfigMapRef == nil {
					continue
				}
				cm, ok := configMaps[ef.ConfigMapRef.Name]
				if !ok {
					if !isTrue(ef.ConfigMapRef.Optional) {
						out = append(out, Violation{cid, RuleDanglingRef, fmt.Sprintf("envFrom ConfigMap %q is not rendered", ef.ConfigMapRef.Name)})
					}
					continue
				}
				for k := range cm.Data {
					names = append(names, ef.Prefix+k)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				if strings.HasPrefix(n, prefix) && !known(n) {
					out = append(out, Violation{cid, RuleUnknownEnv, fmt.Sprintf("%s is not read by the binary", n)})
				}
			}
		}
	}
	return out
}
