package ob3_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/laurel-badges/laurel/openbadges/ob3"
)

// nodeInterop returns the absolute path of an interop folder whose npm packages are
// installed, skips when LAUREL_SKIP_NODE_INTEROP=1, and fails with the command to run when
// they are missing: these tests are part of make test, not optional.
func nodeInterop(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("LAUREL_SKIP_NODE_INTEROP") == "1" {
		t.Skip("LAUREL_SKIP_NODE_INTEROP=1")
	}
	dir, err := filepath.Abs(filepath.Join("..", "internal", "interop", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("npm packages for the %s interop test are not installed; run: npm ci --prefix %s", name, dir)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not on PATH (needed by the %s interop test): %v", name, err)
	}
	return dir
}

type ajvResult struct {
	File   string `json:"file"`
	Valid  bool   `json:"valid"`
	Errors []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"errors"`
}

// runAjv validates each document with ajv against the embedded copy of the schema.
func runAjv(t *testing.T, dir, schemaFile string, docs map[string][]byte) map[string]ajvResult {
	t.Helper()
	tmp := t.TempDir()
	args := []string{filepath.Join(dir, "validate.mjs"), filepath.Join("schema", schemaFile)}
	for name, doc := range docs {
		p := filepath.Join(tmp, name+".json")
		if err := os.WriteFile(p, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // hang guard
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node validate.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	out := map[string]ajvResult{}
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r ajvResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("node output %q: %v\nstderr:\n%s", sc.Text(), err, stderr.String())
		}
		out[strings.TrimSuffix(filepath.Base(r.File), ".json")] = r
	}
	if len(out) != len(docs) {
		t.Fatalf("ajv reported %d documents, want %d\nstderr:\n%s", len(out), len(docs), stderr.String())
	}
	return out
}

// genCredential builds a varied credential the way an issuer would, from a seed.
func genCredential(seed uint64) ob3.AchievementCredential {
	r := rand.New(rand.NewPCG(seed, 42))
	pick := func() bool { return r.IntN(2) == 0 }
	base := "https://badges.example.org/" + fmt.Sprint(seed)
	from := time.Date(2020+r.IntN(6), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC)
	c := ob3.AchievementCredential{
		ID:        fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", seed),
		Name:      "Badge «" + fmt.Sprint(seed) + "» & more",
		Issuer:    ob3.Profile{ID: base + "/issuer", Name: "Issuer " + fmt.Sprint(seed)},
		ValidFrom: ob3.NewTime(from),
		CredentialSubject: ob3.AchievementSubject{
			Achievement: ob3.Achievement{
				ID:          base + "/achievements/a",
				Name:        "Achievement",
				Description: "Line one.\nLine \"two\" <b>",
				Criteria:    ob3.Criteria{Narrative: "# Criteria\n\n* earn it"},
			},
		},
		Proof: []ob3.Proof{{
			Type: "DataIntegrityProof", Cryptosuite: "eddsa-rdfc-2022", Created: from.Format(time.RFC3339),
			VerificationMethod: base + "/issuer#key-1", ProofPurpose: "assertionMethod", ProofValue: "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk",
		}},
	}
	if pick() {
		c.CredentialSubject.ID = "did:example:" + fmt.Sprint(seed)
	} else {
		id, _ := ob3.NewIdentityObject("emailAddress", fmt.Sprintf("learner%d@example.org", seed), "salt"+fmt.Sprint(seed))
		c.CredentialSubject.Identifier = []ob3.IdentityObject{id}
	}
	if pick() {
		c.Description = "Awarded for seed " + fmt.Sprint(seed)
		c.Image = &ob3.Image{ID: base + "/image.png", Caption: "Badge image"}
		c.Issuer.Image = &ob3.Image{ID: "data:image/png;base64,iVBORw0KGgo="}
		c.Issuer.URL, c.Issuer.Email = "https://example.org", "badges@example.org"
	}
	if pick() {
		c.ValidUntil = ob3.NewTime(from.AddDate(1, 0, 0))
		c.AwardedDate = ob3.NewTime(from)
	}
	if pick() {
		a := &c.CredentialSubject.Achievement
		credits := float64(r.IntN(10)) + 0.5
		a.CreditsAvailable = &credits
		a.AchievementType = []string{"Badge", "Certificate", "Competency", "ext:LaurelStreak"}[r.IntN(4)]
		a.Tag = []string{"laurel", "test"}
		a.Alignment = []ob3.Alignment{{TargetName: "Skill", TargetURL: "https://example.org/skills/1", TargetType: "CFItem"}}
		a.ResultDescription = []ob3.ResultDescription{{ID: "urn:uuid:rd-1", Name: "Grade", ResultType: "LetterGrade", AllowedValue: []string{"A", "B"}}}
		c.CredentialSubject.Result = []ob3.Result{{ResultDescription: "urn:uuid:rd-1", Value: "A"}}
		c.CredentialSubject.CreditsEarned = &credits
		c.CredentialSubject.ActivityStartDate = ob3.NewTime(from.AddDate(0, -1, 0))
	}
	if pick() {
		c.Evidence = []ob3.Evidence{{ID: base + "/evidence/1", Name: "Work", Genre: "Project"}, {Narrative: "Did the work."}}
	}
	if pick() {
		c.CredentialSchema = []ob3.CredentialSchema{{ID: ob3.SchemaAchievementCredential, Type: ob3.TypeJSONSchemaValidator2019}}
		c.CredentialStatus = &ob3.CredentialStatus{ID: base + "/revocations", Type: ob3.TypeRevocationList}
		c.RefreshService = &ob3.RefreshService{ID: base + "/refresh", Type: ob3.TypeCredentialRefresh}
	} else if pick() {
		c.CredentialStatus = &ob3.CredentialStatus{
			ID: base + "/status#7", Type: ob3.TypeBitstringStatusEntry, StatusPurpose: "revocation",
			StatusListIndex: "7", StatusListCredential: base + "/status",
		}
	}
	if pick() {
		c.Endorsement = []ob3.EndorsementCredential{{
			ID: "urn:uuid:endorsement-" + fmt.Sprint(seed), Name: "Endorsement",
			Issuer:            ob3.Profile{ID: "https://endorser.example.org"},
			ValidFrom:         ob3.NewTime(from),
			CredentialSubject: ob3.EndorsementSubject{ID: c.Issuer.ID, EndorsementComment: "Trusted."},
		}}
	}
	return c
}

// Laurel's output validates with ajv against the official AchievementCredential schema, and
// ajv and this package agree on every document, valid or not.
func TestSchemaInteropAjv(t *testing.T) {
	t.Parallel()
	dir := nodeInterop(t, "schema")
	docs := map[string][]byte{}
	laurel := map[string]bool{}
	for seed := range uint64(40) {
		c := genCredential(seed)
		if err := c.Validate(); err != nil {
			t.Errorf("built credential %d: Validate: %v", seed, err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("built-%02d", seed)
		docs[name], laurel[name] = b, true
	}
	for _, f := range []string{"basic.json", "full.json", "full-extensions-everywhere.json", "hashed-identifier.json", "endorsement-vc11.json"} {
		docs["spec-"+strings.TrimSuffix(f, ".json")] = readFile(t, f)
	}
	// Broken documents: both validators must reject them.
	breakers := map[string]func(map[string]any){
		"no-validFrom":  func(m map[string]any) { delete(m, "validFrom") },
		"bad-validFrom": func(m map[string]any) { m["validFrom"] = "2020-01-01" },
		"proof-object":  func(m map[string]any) { m["proof"] = map[string]any{"type": "DataIntegrityProof"} },
		"no-criteria":   func(m map[string]any) { delete(sub(m, "credentialSubject", "achievement"), "criteria") },
		"image-string":  func(m map[string]any) { m["image"] = "https://example.org/i.png" },
		"wrong-type":    func(m map[string]any) { m["type"] = []any{"VerifiableCredential"} },
		"identity-extra": func(m map[string]any) {
			sub(m, "credentialSubject")["identifier"] = []any{map[string]any{"type": "IdentityObject", "hashed": false, "identityHash": "a", "identityType": "emailAddress", "x": 1}}
		},
		"achievement-type": func(m map[string]any) { sub(m, "credentialSubject", "achievement")["achievementType"] = "Trophy" },
	}
	for name, breakIt := range breakers {
		var m map[string]any
		if err := json.Unmarshal(docs["built-00"], &m); err != nil {
			t.Fatal(err)
		}
		breakIt(m)
		b, _ := json.Marshal(m)
		docs["broken-"+name] = b
	}

	results := runAjv(t, dir, "achievementcredential.json", docs)
	for name, doc := range docs {
		r := results[name]
		goErr := ob3.ValidateJSON(doc, ob3.SchemaAchievementCredential)
		if (goErr == nil) != r.Valid {
			t.Errorf("%s: ajv valid=%v %v; Go: %v", name, r.Valid, r.Errors, goErr)
		}
		if laurel[name] && !r.Valid {
			t.Errorf("%s: Laurel's credential fails ajv: %v\n%s", name, r.Errors, doc)
		}
		if strings.HasPrefix(name, "broken-") && r.Valid {
			t.Errorf("%s: ajv accepts a broken document", name)
		}
	}
}

func sub(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

// Endorsements Laurel builds validate with ajv against the EndorsementCredential schema.
func TestEndorsementSchemaInteropAjv(t *testing.T) {
	t.Parallel()
	dir := nodeInterop(t, "schema")
	docs := map[string][]byte{}
	for seed := range uint64(40) {
		for i, e := range genCredential(seed).Endorsement {
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			docs[fmt.Sprintf("endorsement-%02d-%d", seed, i)] = b
		}
	}
	if len(docs) == 0 {
		t.Fatal("the generator built no endorsements")
	}
	for name, r := range runAjv(t, dir, "endorsementcredential.json", docs) {
		if !r.Valid {
			t.Errorf("%s fails ajv: %v\n%s", name, r.Errors, docs[name])
		}
	}
}
