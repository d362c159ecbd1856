package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	adminv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/admin/v1"
	issuerv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/issuer/v1"
	rulesv1 "github.com/laurel-badges/laurel/proto/gen/go/laurel/rules/v1"
)

func TestKeysRolesAndRevocation(t *testing.T) {
	t.Parallel()
	dev := startDev(t, t.TempDir())
	ctx := context.Background()

	code, out, errOut := dev.cli(t, dev.key, "keys", "create", "--role", "issuer", "--name", "LMS")
	issuerKey := strings.TrimSpace(out)
	if code != exitOK || !strings.HasPrefix(issuerKey, "lrl_") {
		t.Fatalf("keys create = %d %q %s", code, out, errOut)
	}

	// An issuer key may report activity and read profiles, but not change who issues.
	issuerConn := dial(t, dev.api, issuerKey)
	if _, err := rulesv1.NewRulesServiceClient(issuerConn).PublishEvent(ctx, &rulesv1.PublishEventRequest{Event: &rulesv1.CloudEvent{
		Id: "1", Source: "https://lms.example", Type: "com.example.login", Subject: "bob"}}); err != nil {
		t.Errorf("issuer key publishing: %v", err)
	}
	if _, err := issuerv1.NewIssuerServiceClient(issuerConn).ListProfiles(ctx, &issuerv1.ListProfilesRequest{}); err != nil {
		t.Errorf("issuer key listing profiles: %v", err)
	}
	_, err := issuerv1.NewIssuerServiceClient(issuerConn).CreateProfile(ctx, &issuerv1.CreateProfileRequest{Profile: &issuerv1.Profile{DisplayName: "x", Url: "https://x.example"}})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("issuer key creating a profile: %v, want PermissionDenied", err)
	}
	if _, err := adminv1.NewAdminServiceClient(issuerConn).ListApiKeys(ctx, &adminv1.ListApiKeysRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("issuer key listing keys: %v, want PermissionDenied", err)
	}

	// A retried create with the same request id returns the same key, without a secret.
	admin := adminv1.NewAdminServiceClient(dial(t, dev.api, dev.key))
	req := &adminv1.CreateApiKeyRequest{RequestId: "9d4c1f0e-2b7a-4c3e-8f61-0a5b2c3d4e5f", ApiKey: &adminv1.ApiKey{DisplayName: "retry", Role: adminv1.Role_ROLE_CREATOR}}
	first, err := admin.CreateApiKey(ctx, req)
	if err != nil || first.GetSecret() == "" {
		t.Fatalf("create: %v", err)
	}
	again, err := admin.CreateApiKey(ctx, req)
	if err != nil || again.GetSecret() != "" || again.GetApiKey().GetName() != first.GetApiKey().GetName() {
		t.Errorf("replayed create = %v, %v; want %s without a secret", again, err, first.GetApiKey().GetName())
	}

	// The tenant's only admin key cannot be deleted.
	adminID, _ := strings.CutPrefix(dev.key, "lrl_")
	adminID, _, _ = strings.Cut(adminID, "_")
	if code, _, errOut := dev.cli(t, dev.key, "keys", "delete", adminID); code != exitError || !strings.Contains(errOut, "FailedPrecondition") {
		t.Errorf("deleting the last admin key = %d %q", code, errOut)
	}

	// A deleted key stops working.
	issuerID := strings.SplitN(strings.TrimPrefix(issuerKey, "lrl_"), "_", 2)[0]
	if code, _, errOut := dev.cli(t, dev.key, "keys", "delete", issuerID); code != exitOK {
		t.Fatalf("keys delete = %d %s", code, errOut)
	}
	deadline := time.Now().Add(30 * time.Second) // hang guard: the watcher applies deletes asynchronously
	for {
		_, err := issuerv1.NewIssuerServiceClient(issuerConn).ListProfiles(ctx, &issuerv1.ListProfilesRequest{})
		if status.Code(err) == codes.Unauthenticated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted key still accepted: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out, _ = dev.cli(t, dev.key, "keys", "list")
	if code != exitOK || strings.Contains(out, issuerID) || !strings.Contains(out, "laurel dev admin") {
		t.Errorf("keys list after delete = %d\n%s", code, out)
	}
}
