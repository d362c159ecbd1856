package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/laurel-badges/laurel/openbadges/did"
	"github.com/laurel-badges/laurel/openbadges/multikey"
	eventsv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/events/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	verifierv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/verifier/v1"
)

// Not parallel: it sets LAUREL_MASTER_KEY and LAUREL_PUBLIC_URL for the dev instance.
func TestDevCredentialAsVCJWT(t *testing.T) {
	ctx := context.Background()
	dev, addr, _ := loopbackDev(t)
	client := issuerv1.NewIssuerServiceClient(dial(t, dev.api, dev.key))
	issued, err := client.IssueCredential(ctx, &issuerv1.IssueCredentialRequest{Achievement: "achievements/go-101",
		Recipient: &eventsv1.Recipient{Subject: "alice", Email: "alice@example.org"}, Narrative: "Built a CLI."})
	if err != nil {
		t.Fatal(err)
	}
	cred := issued.GetCredential()
	id := strings.TrimPrefix(cred.GetName(), "credentials/")

	// Asked for, GetCredential returns the JWT form; the CLI prints it alone.
	got, err := client.GetCredential(ctx, &issuerv1.GetCredentialRequest{Name: cred.GetName(), Format: issuerv1.CredentialFormat_CREDENTIAL_FORMAT_VC_JWT})
	if err != nil {
		t.Fatal(err)
	}
	token := got.GetCredential().GetVcJwt()
	if strings.Count(token, ".") != 2 {
		t.Fatalf("GetCredential vc_jwt = %q", token)
	}
	if plain, err := client.GetCredential(ctx, &issuerv1.GetCredentialRequest{Name: cred.GetName()}); err != nil || plain.GetCredential().GetVcJwt() != "" {
		t.Errorf("GetCredential without format returned vc_jwt %q (%v)", plain.GetCredential().GetVcJwt(), err)
	}
	code, out, errOut := dev.issuerCLI(t, "credentials", "get", id, "--format", "vc-jwt")
	if code != exitOK || strings.TrimSpace(out) != token {
		t.Fatalf("credentials get --format vc-jwt = %d:\n%s%s", code, out, errOut)
	}
	parts := strings.Split(token, ".")
	var header struct {
		Algorithm string `json:"alg"`
		KeyID     string `json:"kid"`
	}
	var claims map[string]any
	for i, into := range []any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(raw, into) != nil {
			t.Fatalf("VC-JWT part %d does not decode: %v", i, err)
		}
	}
	if header.Algorithm != "EdDSA" || !strings.HasPrefix(header.KeyID, "http://"+addr+"/issuers/dev/academy#") ||
		claims["jti"] != cred.GetCredentialUrl() || claims["iss"] != "http://"+addr+"/issuers/dev/academy" || claims["proof"] != nil {
		t.Fatalf("VC-JWT header %+v claims jti=%v iss=%v proof=%v", header, claims["jti"], claims["iss"], claims["proof"] != nil)
	}

	// `laurel verify` of the JWT file: signature with the key the issuer profile publishes,
	// status list fetched from the issuer.
	code, rep, errOut := verifyCLIOnline(t, addr, writeTemp(t, "badge.jwt", []byte(token)))
	if code != exitOK || rep.GetVerdict() != verifierv1.Verdict_VERDICT_VALID {
		t.Fatalf("laurel verify VC-JWT = %d %v:\n%v%s", code, rep.GetVerdict(), rep.GetChecks(), errOut)
	}

	// Hosted: the credential URL negotiates the JWT form, and serves it under ".jwt".
	resp, body := get(t, cred.GetCredentialUrl(), "Accept", "application/vc+jwt")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/vc+jwt" ||
		resp.Header.Get("Vary") != "Accept" || string(body) != token {
		t.Fatalf("GET credential Accept: application/vc+jwt = %d %v %q", resp.StatusCode, resp.Header, body)
	}
	if resp, body := get(t, cred.GetCredentialUrl()+".jwt"); resp.StatusCode != http.StatusOK || string(body) != token {
		t.Fatalf("GET credential.jwt = %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, cred.GetCredentialUrl(), "Accept", "application/vc+ld+json"); resp.StatusCode != http.StatusOK || string(body) != cred.GetOb3Json() {
		t.Fatalf("GET credential as JSON-LD = %d %q", resp.StatusCode, body)
	}

	// did:web and JWKS: the profile's keys, the rotated-out one included, are published
	// under did:web:<host%3Aport>:issuers:dev:academy and as OKP JWKs.
	if _, err := client.RotateSigningKey(ctx, &issuerv1.RotateSigningKeyRequest{Parent: "profiles/academy"}); err != nil {
		t.Fatal(err)
	}
	keys, err := client.ListSigningKeys(ctx, &issuerv1.ListSigningKeysRequest{Parent: "profiles/academy"})
	if err != nil || len(keys.GetSigningKeys()) != 2 {
		t.Fatalf("ListSigningKeys = %v, %v", keys, err)
	}
	didID := "did:web:" + strings.ReplaceAll(addr, ":", "%3A") + ":issuers:dev:academy"
	if !strings.Contains(didID, "%3A") {
		t.Fatalf("did %s does not percent-encode the port", didID)
	}
	// did:web documents live at https URLs; the test maps them onto the dev instance's
	// loopback http address, as a local verifier's fetcher would.
	fetcher := did.FetcherFunc(func(ctx context.Context, u string) ([]byte, error) {
		resp, body := get(t, strings.Replace(u, "https://", "http://", 1))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", u, resp.StatusCode)
		}
		return body, nil
	})
	doc, err := did.NewWebResolver(fetcher).Resolve(ctx, didID)
	if err != nil {
		t.Fatalf("resolve %s: %v", didID, err)
	}
	jwksURL := "http://" + addr + "/issuers/dev/academy/jwks.json"
	for _, k := range keys.GetSigningKeys() {
		keyID := k.GetName()[strings.LastIndex(k.GetName(), "/")+1:]
		want, err := multikey.DecodePublicKey(k.GetPublicKeyMultibase())
		if err != nil {
			t.Fatal(err)
		}
		vm := doc.Methods[didID+"#"+keyID]
		if vm == nil || vm.Controller != didID || !vm.AuthorizedFor(did.AssertionMethod) || !equalKeys(vm.PublicKey, want) {
			t.Errorf("did:web method for key %s = %+v, want %x authorized for assertions", keyID, vm, want)
		}
		jwk, err := did.NewURLResolver(fetcher).ResolveVerificationMethod(ctx, jwksURL+"#"+keyID)
		if err != nil || !equalKeys(jwk.PublicKey, want) {
			t.Errorf("JWKS key %s = %v, %v", keyID, jwk, err)
		}
	}
	// The credential's JWT verifies with its key resolved through did:web: the same key
	// under the issuer's DID as under its https profile.
	keyID := header.KeyID[strings.LastIndex(header.KeyID, "#")+1:]
	vm, err := did.NewResolver(fetcher).ResolveVerificationMethod(ctx, didID+"#"+keyID)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	pub, _ := vm.PublicKey.(ed25519.PublicKey)
	if err != nil || pub == nil || !ed25519.Verify(pub, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatalf("VC-JWT does not verify with the did:web key %s (%v)", vm.ID, err)
	}
	if resp, _ := get(t, "http://"+addr+"/issuers/dev/nobody/did.json"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("did.json of an unknown profile = %d", resp.StatusCode)
	}

	// Revoked: the JWT form answers 410 Gone too.
	if _, err := client.RevokeCredential(ctx, &issuerv1.RevokeCredentialRequest{Name: cred.GetName(), Reason: "issued by mistake"}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := get(t, cred.GetCredentialUrl()+".jwt"); resp.StatusCode != http.StatusGone {
		t.Errorf("GET revoked credential.jwt = %d, want 410", resp.StatusCode)
	}
}

func equalKeys(got any, want any) bool {
	g, ok1 := got.(ed25519.PublicKey)
	w, ok2 := want.(ed25519.PublicKey)
	return ok1 && ok2 && g.Equal(w)
}
