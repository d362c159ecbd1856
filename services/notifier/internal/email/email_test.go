package email

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRender(t *testing.T) {
	t.Parallel()
	a := SampleAward("go-101")
	a.AchievementName = `<script>alert(1)</script> & "Go"`
	tests := []struct {
		name       string
		tmpl       Template
		want       Message
		wantFields []string
		wantText   string
	}{
		{
			name: "html is escaped, text is not, the subject is one line",
			tmpl: Template{Subject: "You earned\r\n{{.AchievementName}}", HTML: "<b>{{.AchievementName}}</b>", Text: "{{.AchievementName}}"},
			want: Message{Subject: `You earned <script>alert(1)</script> & "Go"`, HTML: "<b>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Go&#34;</b>", Text: a.AchievementName},
		},
		{
			name:       "unknown fields and parse errors name their part",
			tmpl:       Template{Subject: "{{.Nope}}", HTML: "{{if}}", Text: "{{.RecipientEmail"},
			wantFields: []string{"subject", "html_body", "text_body"},
		},
		{
			name:       "an empty subject is refused",
			tmpl:       Template{Subject: "{{if false}}x{{end}}", HTML: "h", Text: "t"},
			wantFields: []string{"subject"},
		},
		{
			name:       "output is bounded",
			tmpl:       Template{Subject: "s", HTML: "h", Text: `{{range 20000}}{{printf "%0100d" 0}}{{end}}`},
			wantFields: []string{"text_body"},
			wantText:   "renders more than",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Render(tt.tmpl, a)
			var verr *ValidationError
			if len(tt.wantFields) > 0 {
				if !errors.As(err, &verr) {
					t.Fatalf("Render = %v, want a ValidationError", err)
				}
				var fields []string
				for _, v := range verr.Violations {
					fields = append(fields, v.Field)
				}
				if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
				if !strings.Contains(verr.Error(), tt.wantText) {
					t.Errorf("error %q, want it to say %q", verr, tt.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

type memTemplates map[string]Template

func (m memTemplates) Get(_ context.Context, tenant, id string) (Template, error) {
	t, ok := m[tenant+"/"+id]
	if !ok {
		return Template{}, ErrNotFound
	}
	return t, nil
}
func (m memTemplates) Put(_ context.Context, t Template) (Template, error) {
	m[t.Tenant+"/"+t.AchievementID] = t
	return t, nil
}
func (m memTemplates) List(context.Context, string, string, int) ([]Template, error) { return nil, nil }

type memOptOuts map[string]bool

func (m memOptOuts) OptedOut(_ context.Context, tenant, key string) (bool, error) {
	return m[tenant+"/"+key], nil
}
func (m memOptOuts) Set(_ context.Context, tenant, key string, out bool) error {
	m[tenant+"/"+key] = out
	return nil
}

type memMailer []Mail

func (m *memMailer) Send(_ context.Context, mail Mail) error { *m = append(*m, mail); return nil }

func TestUnsubscribeTokensAreBoundToTenantAndAddress(t *testing.T) {
	t.Parallel()
	opt := memOptOuts{}
	var sent memMailer
	s := NewService(memTemplates{}, opt, &sent, "https://b.example/email/unsubscribe", []byte("k1"), slog.New(slog.DiscardHandler))
	token := s.UnsubscribeToken("acme", "Ada@Example.org")
	other := NewService(memTemplates{}, opt, &sent, "", []byte("k2"), slog.New(slog.DiscardHandler))
	for _, bad := range []string{"", "x", token + "x", strings.Replace(token, ".", "x.", 1), other.UnsubscribeToken("acme", "ada@example.org")} {
		if _, err := s.Unsubscribe(context.Background(), bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("Unsubscribe(%q) = %v, want ErrBadToken", bad, err)
		}
	}
	if addr, err := s.Unsubscribe(context.Background(), token); err != nil || addr != "Ada@Example.org" {
		t.Fatalf("Unsubscribe = %q, %v", addr, err)
	}
	a := SampleAward("go-101")
	a.RecipientEmail = "ada@example.org" // other case: the same address
	if ok, err := s.Issued(context.Background(), "acme", a); ok || err != nil {
		t.Errorf("mail sent to an opted-out address: %v %v", ok, err)
	}
	if ok, err := s.Issued(context.Background(), "globex", a); !ok || err != nil {
		t.Errorf("an opt-out at one tenant stopped another's mail: %v %v", ok, err)
	}
	a.RecipientEmail = ""
	if ok, _ := s.Issued(context.Background(), "globex", a); ok {
		t.Error("mail sent without an address")
	}
	if len(sent) != 1 || !strings.HasPrefix(sent[0].UnsubscribeURL, "https://b.example/email/unsubscribe?token=") {
		t.Errorf("sent %+v", sent)
	}
}
