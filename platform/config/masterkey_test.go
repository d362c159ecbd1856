package config_test

import (
	"bytes"
	"encoding/base64"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/laurel-badges/laurel/platform/config"
)

func TestMasterKey(t *testing.T) {
	t.Parallel()
	good := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	tests := []struct {
		value, wantErr string
	}{
		{good, ""},
		{strings.TrimRight(base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), "="), ""},
		{"", "--master-key / LAUREL_MASTER_KEY: is required"},
		{base64.StdEncoding.EncodeToString([]byte("short")), "decodes to 5 bytes, want 32"},
		{strings.Repeat("ab", 32), ""},
		{"%%%", "is neither base64 nor hex"},
	}
	for _, tt := range tests {
		var m config.MasterKey
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		m.Register(fs)
		if err := fs.Parse([]string{"--master-key", tt.value}); err != nil {
			t.Fatal(err)
		}
		err := config.Validate(&m)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tt.value, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%q: error %v, want %q", tt.value, err, tt.wantErr)
		case tt.wantErr == "" && len(m.Bytes()) != 32:
			t.Errorf("%q: %d bytes", tt.value, len(m.Bytes()))
		}
	}
}

func TestMasterKeyFileIsCreatedOnceAndKept(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "master-key")
	first, err := config.LoadOrCreateMasterKeyFile(path)
	if err != nil || len(first) != 32 {
		t.Fatalf("create: %d bytes, %v", len(first), err)
	}
	again, err := config.LoadOrCreateMasterKeyFile(path)
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("reload gave another key (%v)", err)
	}
}
