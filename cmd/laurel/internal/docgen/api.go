package docgen

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
)

// API renders docs/reference/api.md from a FileDescriptorSet that includes its imports and
// source info (what `buf build --as-file-descriptor-set` writes). Only files whose path
// starts with pathPrefix are documented; the rest only resolve types.
//
// The options Laurel reads (google.api.http, google.api.field_behavior and
// laurel.events.v1.cloudevent_type) must be known to the unmarshaller of set: this package
// imports their Go packages, so proto.Unmarshal with the default resolver finds them.
func API(set *descriptorpb.FileDescriptorSet, pathPrefix string) ([]byte, error) {
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("resolve descriptors: %w", err)
	}
	byPackage := map[protoreflect.FullName][]protoreflect.FileDescriptor{}
	var packages []protoreflect.FullName
	files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(fd.Path(), pathPrefix) {
			return true
		}
		if _, seen := byPackage[fd.Package()]; !seen {
			packages = append(packages, fd.Package())
		}
		byPackage[fd.Package()] = append(byPackage[fd.Package()], fd)
		return true
	})
	if len(packages) == 0 {
		return nil, fmt.Errorf("no file under %q in the descriptor set", pathPrefix)
	}
	slices.Sort(packages)

	var b bytes.Buffer
	b.WriteString(generatedBanner("make generate-docs", "the comments in proto/laurel/**/*.proto"))
	b.WriteString(`# gRPC API reference

Every service, RPC, message, field and enum of Laurel's API, with the comments of the
` + "`.proto`" + ` files under [proto/laurel](../../proto/laurel). The same RPCs are served as JSON over
HTTP on the same address: each RPC's HTTP route is listed with it, and
[laurel.swagger.json](../../proto/gen/openapi/laurel.swagger.json) is the OpenAPI document. How to
call the API (keys, errors, pages, idempotency) is in [api.md](../api.md).

`)
	for _, pkg := range packages {
		fds := byPackage[pkg]
		slices.SortFunc(fds, func(a, c protoreflect.FileDescriptor) int { return strings.Compare(a.Path(), c.Path()) })
		fmt.Fprintf(&b, "- [%s](#%s)", pkg, anchorID(pkg))
		var names []string
		for _, fd := range fds {
			for i := range fd.Services().Len() {
				s := fd.Services().Get(i)
				names = append(names, fmt.Sprintf("[%s](#%s)", s.Name(), anchorID(s.FullName())))
			}
		}
		if len(names) > 0 {
			b.WriteString(": " + strings.Join(names, ", "))
		}
		b.WriteString("\n")
	}
	for _, pkg := range packages {
		writePackage(&b, pkg, byPackage[pkg])
	}
	return b.Bytes(), nil
}

func writePackage(b *bytes.Buffer, pkg protoreflect.FullName, fds []protoreflect.FileDescriptor) {
	fmt.Fprintf(b, "\n<a id=\"%s\"></a>\n\n## %s\n", anchorID(pkg), pkg)
	for _, fd := range fds {
		// The package statement's comment is the package's introduction.
		if c := comment(fd.SourceLocations().ByPath(protoreflect.SourcePath{2})); c != "" {
			fmt.Fprintf(b, "\n%s\n", c)
		}
	}
	for _, fd := range fds {
		for i := range fd.Services().Len() {
			writeService(b, fd.Services().Get(i))
		}
	}
	var msgs []protoreflect.MessageDescriptor
	var enums []protoreflect.EnumDescriptor
	for _, fd := range fds {
		collect(fd.Messages(), fd.Enums(), &msgs, &enums)
	}
	if len(msgs) > 0 {
		fmt.Fprintf(b, "\n### Messages of %s\n", pkg)
		for _, m := range msgs {
			writeMessage(b, m)
		}
	}
	if len(enums) > 0 {
		fmt.Fprintf(b, "\n### Enums of %s\n", pkg)
		for _, e := range enums {
			writeEnum(b, e)
		}
	}
}

// collect lists messages and enums depth-first in file order, nested ones after their
// parent, leaving out map entries (they show as map<K, V> fields).
func collect(ms protoreflect.MessageDescriptors, es protoreflect.EnumDescriptors, msgs *[]protoreflect.MessageDescriptor, enums *[]protoreflect.EnumDescriptor) {
	for i := range es.Len() {
		*enums = append(*enums, es.Get(i))
	}
	for i := range ms.Len() {
		m := ms.Get(i)
		if m.IsMapEntry() {
			continue
		}
		*msgs = append(*msgs, m)
		collect(m.Messages(), m.Enums(), msgs, enums)
	}
}

func writeService(b *bytes.Buffer, s protoreflect.ServiceDescriptor) {
	fmt.Fprintf(b, "\n<a id=\"%s\"></a>\n\n### %s\n\n", anchorID(s.FullName()), s.Name())
	if c := describe(s); c != "" {
		fmt.Fprintf(b, "%s\n\n", c)
	}
	b.WriteString("| RPC | request | response | HTTP |\n| --- | --- | --- | --- |\n")
	for i := range s.Methods().Len() {
		m := s.Methods().Get(i)
		fmt.Fprintf(b, "| [%s](#%s) | %s | %s | %s |\n", m.Name(), anchorID(m.FullName()),
			typeLink(m.Input()), typeLink(m.Output()), strings.Join(httpRoutes(m), "<br>"))
	}
	for i := range s.Methods().Len() {
		m := s.Methods().Get(i)
		fmt.Fprintf(b, "\n<a id=\"%s\"></a>\n\n#### %s.%s\n\n", anchorID(m.FullName()), s.Name(), m.Name())
		fmt.Fprintf(b, "`rpc %s(%s) returns (%s)`", m.Name(), m.Input().FullName(), m.Output().FullName())
		for _, r := range httpRoutes(m) {
			fmt.Fprintf(b, " · %s", r)
		}
		b.WriteString("\n")
		if c := describe(m); c != "" {
			fmt.Fprintf(b, "\n%s\n", c)
		}
	}
}

// httpRoutes lists the JSON/HTTP routes of an RPC, e.g. "`POST /v1/rules` (body: `rule`)".
func httpRoutes(m protoreflect.MethodDescriptor) []string {
	opts, ok := m.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, annotations.E_Http) {
		return nil
	}
	rule, ok := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		var verb, path string
		switch p := r.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			verb, path = "GET", p.Get
		case *annotations.HttpRule_Put:
			verb, path = "PUT", p.Put
		case *annotations.HttpRule_Post:
			verb, path = "POST", p.Post
		case *annotations.HttpRule_Delete:
			verb, path = "DELETE", p.Delete
		case *annotations.HttpRule_Patch:
			verb, path = "PATCH", p.Patch
		case *annotations.HttpRule_Custom:
			verb, path = p.Custom.GetKind(), p.Custom.GetPath()
		default:
			continue
		}
		s := fmt.Sprintf("`%s %s`", verb, path)
		if r.GetBody() != "" {
			s += fmt.Sprintf(" (body: `%s`)", r.GetBody())
		}
		out = append(out, s)
	}
	return out
}

func writeMessage(b *bytes.Buffer, m protoreflect.MessageDescriptor) {
	fmt.Fprintf(b, "\n<a id=\"%s\"></a>\n\n#### %s\n\n", anchorID(m.FullName()), localName(m))
	if c := describe(m); c != "" {
		fmt.Fprintf(b, "%s\n\n", c)
	}
	if opts, ok := m.Options().(*descriptorpb.MessageOptions); ok && opts != nil && proto.HasExtension(opts, eventsv1.E_CloudeventType) {
		fmt.Fprintf(b, "CloudEvent type: `%s`\n\n", proto.GetExtension(opts, eventsv1.E_CloudeventType))
	}
	if m.Fields().Len() == 0 {
		b.WriteString("No fields.\n")
		return
	}
	b.WriteString("| field | type | description |\n| --- | --- | --- |\n")
	for i := range m.Fields().Len() {
		f := m.Fields().Get(i)
		desc := behaviour(f) + describe(f)
		if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
			desc = fmt.Sprintf("One of `%s`. %s", o.Name(), desc)
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", f.Name(), fieldType(f), cell(desc))
	}
}

func writeEnum(b *bytes.Buffer, e protoreflect.EnumDescriptor) {
	name := string(e.Name())
	if parent, ok := e.Parent().(protoreflect.MessageDescriptor); ok {
		name = localName(parent) + "." + name
	}
	fmt.Fprintf(b, "\n<a id=\"%s\"></a>\n\n#### %s\n\n", anchorID(e.FullName()), name)
	if c := describe(e); c != "" {
		fmt.Fprintf(b, "%s\n\n", c)
	}
	b.WriteString("| value | number | description |\n| --- | --- | --- |\n")
	for i := range e.Values().Len() {
		v := e.Values().Get(i)
		fmt.Fprintf(b, "| `%s` | %d | %s |\n", v.Name(), v.Number(), cell(describe(v)))
	}
}

// behaviour renders google.api.field_behavior, which says what clients must send and what
// the server ignores, as the start of a field's description.
func behaviour(f protoreflect.FieldDescriptor) string {
	opts, ok := f.Options().(*descriptorpb.FieldOptions)
	if !ok || opts == nil || !proto.HasExtension(opts, annotations.E_FieldBehavior) {
		return ""
	}
	var words []string
	for _, fb := range proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior) {
		switch fb {
		case annotations.FieldBehavior_REQUIRED:
			words = append(words, "Required.")
		case annotations.FieldBehavior_OUTPUT_ONLY:
			words = append(words, "Output only.")
		case annotations.FieldBehavior_INPUT_ONLY:
			words = append(words, "Input only.")
		case annotations.FieldBehavior_IMMUTABLE:
			words = append(words, "Immutable.")
		case annotations.FieldBehavior_OPTIONAL:
			words = append(words, "Optional.")
		case annotations.FieldBehavior_IDENTIFIER:
			words = append(words, "Identifier.")
		}
	}
	if len(words) == 0 {
		return ""
	}
	return "**" + strings.Join(words, " ") + "** "
}

func fieldType(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		k, v := fieldType(f.MapKey()), fieldType(f.MapValue())
		if strings.HasPrefix(v, "`") { // both scalars (keys always are): one code span reads best
			return "`map<" + strings.Trim(k, "`") + ", " + strings.Trim(v, "`") + ">`"
		}
		return fmt.Sprintf("map&lt;%s, %s&gt;", k, v)
	}
	var t string
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		t = typeLink(f.Message())
	case protoreflect.EnumKind:
		t = typeLink(f.Enum())
	default:
		t = "`" + f.Kind().String() + "`"
	}
	if f.IsList() {
		return "repeated " + t
	}
	if f.HasOptionalKeyword() {
		return "optional " + t
	}
	return t
}

// typeLink links Laurel's own types to their section; other types (well-known types,
// google.api, buf.validate) are named in full.
func typeLink(d protoreflect.Descriptor) string {
	if strings.HasPrefix(string(d.FullName()), "laurel.") {
		return fmt.Sprintf("[%s](#%s)", d.Name(), anchorID(d.FullName()))
	}
	return "`" + string(d.FullName()) + "`"
}

// localName is a message's name inside its package: "Outer.Inner".
func localName(m protoreflect.MessageDescriptor) string {
	return strings.TrimPrefix(string(m.FullName()), string(m.ParentFile().Package())+".")
}

func anchorID(n protoreflect.FullName) string {
	return strings.ToLower(strings.ReplaceAll(string(n), ".", "-"))
}

func describe(d protoreflect.Descriptor) string {
	return comment(d.ParentFile().SourceLocations().ByDescriptor(d))
}

// comment turns a leading comment into Markdown: the comment's own line breaks are
// wrapping, so lines join into paragraphs; blank comment lines separate paragraphs.
func comment(loc protoreflect.SourceLocation) string {
	var paras []string
	var cur []string
	for _, line := range strings.Split(loc.LeadingComments, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			if len(cur) > 0 {
				paras = append(paras, strings.Join(cur, " "))
				cur = nil
			}
			continue
		}
		cur = append(cur, line)
	}
	if len(cur) > 0 {
		paras = append(paras, strings.Join(cur, " "))
	}
	return strings.Join(paras, "\n\n")
}
