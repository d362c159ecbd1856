package docgen

import (
	"flag"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/laurel-badges/laurel/platform/config"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

// withImports returns fd and everything it imports, dependencies first, as buf build does.
func withImports(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorSet {
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(fd)
	return set
}

// The generated Go descriptors carry options but no comments, which is enough to check
// what the page derives from options and structure.
func TestAPIRendersRoutesBehaviourAndTypes(t *testing.T) {
	t.Parallel()
	page, err := API(withImports(rulesv1.File_laurel_rules_v1_rules_service_proto), "laurel/")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| [PublishEvent](#laurel-rules-v1-rulesservice-publishevent) | [PublishEventRequest](#laurel-rules-v1-publisheventrequest) | [PublishEventResponse](#laurel-rules-v1-publisheventresponse) | `POST /v1/events:publish` (body: `*`) |",
		"<a id=\"laurel-rules-v1-rule\"></a>\n\n#### Rule\n",
		"| `id` | `string` | **Required.** |",
		"| `aggregate` | [Aggregate](#laurel-rules-v1-aggregate) | **Required.** |",
		"| `create_time` | `google.protobuf.Timestamp` | **Output only.** |",
		"| `event_types` | repeated `string` |",
		"| `extensions` | `map<string, string>` |",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "## google.protobuf") {
		t.Error("imported files outside the prefix are documented")
	}
	if _, err := API(withImports(rulesv1.File_laurel_rules_v1_rules_service_proto), "nothing/"); err == nil {
		t.Error("an empty selection gives no error")
	}
}

func TestConfigurationListsEveryFlagWithItsVariable(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var n config.NATS
	n.Register(fs)
	fs.String("odd", "", "a | pipe\nand a line break")
	page := string(Configuration([]Command{{Usage: "laurel thing", About: "Does a thing.", Flags: fs}}))
	for _, want := range []string{
		"| [`laurel thing`](#laurel-thing) | Does a thing. |",
		"| `--nats-url` | `LAUREL_NATS_URL` | `nats://127.0.0.1:4222` | NATS server URLs, comma-separated |",
		"| `--nats-creds` | `LAUREL_NATS_CREDS` | — | path to a NATS .creds file |",
		"| `--odd` | `LAUREL_ODD` | — | a \\| pipe and a line break |",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
}
