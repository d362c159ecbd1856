package chartcheck

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Object is one rendered Kubernetes object.
type Object struct {
	// Source is the template that rendered it, from Helm's "# Source:" comment.
	Source    string
	GVK       schema.GroupVersionKind
	Name      string
	Namespace string
	// Typed is the decoded object: a k8s.io/api type (*appsv1.Deployment, ...) for a
	// built-in kind, an *unstructured.Unstructured for a custom resource that passed its
	// CRD's schema.
	Typed runtime.Object
}

// ID names the object in messages: "Deployment/laurel-rules".
func (o Object) ID() string { return o.GVK.Kind + "/" + o.Name }

// Decoder decodes rendered manifests strictly: a field that the object's type does not
// have, a duplicate field, or a kind that is neither built in nor given as a CRD is an
// error, as the API server's strict field validation would report it. Built once, a
// Decoder is safe for concurrent use.
type Decoder struct {
	deserializer runtime.Decoder
	crds         map[schema.GroupVersionKind]*apiextv1.JSONSchemaProps
}

// NewDecoder returns a Decoder for the built-in Kubernetes kinds plus the custom resources
// that the given CRD documents (YAML, apiextensions.k8s.io/v1) define, one kind per served
// version.
func NewDecoder(crds ...[]byte) (*Decoder, error) {
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if err := apiextv1.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	d := &Decoder{
		deserializer: serializer.NewCodecFactory(sch, serializer.EnableStrict).UniversalDeserializer(),
		crds:         map[schema.GroupVersionKind]*apiextv1.JSONSchemaProps{},
	}
	for i, raw := range crds {
		obj, _, err := d.deserializer.Decode(raw, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("decode CRD %d: %w", i, err)
		}
		crd, ok := obj.(*apiextv1.CustomResourceDefinition)
		if !ok {
			return nil, fmt.Errorf("decode CRD %d: got %T, want a CustomResourceDefinition", i, obj)
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
			d.crds[gvk] = v.Schema.OpenAPIV3Schema
		}
	}
	return d, nil
}

var (
	docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)
	sourceLine   = regexp.MustCompile(`(?m)^# Source: (.+)$`)
)

// Decode splits manifest into its YAML documents and decodes each one strictly. Empty
// documents are skipped. It reports every bad document at once, each error naming the
// template it came from, and rejects two objects with the same kind, namespace and name.
func (d *Decoder) Decode(manifest string) ([]Object, error) {
	var (
		out  []Object
		errs []error
		seen = map[string]string{}
	)
	for _, doc := range docSeparator.Split(manifest, -1) {
		if isBlank(doc) {
			continue
		}
		source := "(unknown template)"
		if m := sourceLine.FindStringSubmatch(doc); m != nil {
			source = strings.TrimSpace(m[1])
		}
		obj, err := d.decodeOne([]byte(doc))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
			continue
		}
		obj.Source = source
		key := obj.GVK.String() + "|" + obj.Namespace + "|" + obj.Name
		if prev, dup := seen[key]; dup {
			errs = append(errs, fmt.Errorf("%s: %s is also rendered by %s", source, obj.ID(), prev))
			continue
		}
		seen[key] = source
		out = append(out, obj)
	}
	return out, errors.Join(errs...)
}

func (d *Decoder) decodeOne(doc []byte) (Object, error) {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return Object{}, fmt.Errorf("parse: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return Object{}, errors.New("object has no apiVersion or kind")
	}
	gvk := schema.FromAPIVersionAndKind(tm.APIVersion, tm.Kind)
	var obj runtime.Object
	if props, ok := d.crds[gvk]; ok {
		u, err := decodeCustom(doc, props)
		if err != nil {
			return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
		}
		obj = u
	} else {
		typed, _, err := d.deserializer.Decode(doc, nil, nil)
		if err != nil {
			return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
		}
		obj = typed
	}
	acc, err := meta.Accessor(obj)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %w", gvk.Kind, err)
	}
	if acc.GetName() == "" {
		return Object{}, fmt.Errorf("%s: metadata.name is empty", gvk.Kind)
	}
	return Object{GVK: gvk, Name: acc.GetName(), Namespace: acc.GetNamespace(), Typed: obj}, nil
}

// decodeCustom checks a custom resource against its CRD schema, the way the API server
// prunes and then rejects unknown fields, and its metadata against ObjectMeta.
func decodeCustom(doc []byte, props *apiextv1.JSONSchemaProps) (*unstructured.Unstructured, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	var errs []error
	if md, ok := m["metadata"]; ok {
		raw, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("metadata: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		var om metav1.ObjectMeta
		if err := dec.Decode(&om); err != nil {
			errs = append(errs, fmt.Errorf("metadata: %w", err))
		}
	}
	body := make(map[string]any, len(m))
	for k, v := range m {
		if k != "metadata" && k != "apiVersion" && k != "kind" {
			body[k] = v
		}
	}
	top := *props
	top.Properties = map[string]apiextv1.JSONSchemaProps{}
	for k, p := range props.Properties {
		if k != "metadata" && k != "apiVersion" && k != "kind" {
			top.Properties[k] = p
		}
	}
	errs = append(errs, validateSchema("", body, &top)...)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func isBlank(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
