package cloudid

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	if _, err := Read(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Read before Write: %v, want fs.ErrNotExist", err)
	}
	want := Identity{GatewayID: "7", ClaimCode: "ABCD-EFGH", ClaimCodeExpiresAt: 1700000000000, Credential: "secret", CloudURL: "https://c.example"}
	for _, claimed := range []bool{false, true} { // the second write replaces the first
		want.Claimed = claimed
		if err := Write(dir, want); err != nil {
			t.Fatal(err)
		}
		got, err := Read(dir)
		if err != nil || got != want {
			t.Fatalf("Read = %+v, %v; want %+v", got, err, want)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, File))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600 (it holds the credential)", File, fi.Mode(), err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".cloud-*"))
	if len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestURLs(t *testing.T) {
	for _, c := range []struct {
		url, sync string
		ok        bool
	}{
		{"https://cloud.example", "wss://cloud.example/api/v1/gateway/sync", true},
		{"https://cloud.example/", "wss://cloud.example/api/v1/gateway/sync", true},
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/api/v1/gateway/sync", true},
		{"http://localhost", "ws://localhost/api/v1/gateway/sync", true},
		{"http://cloud.example", "", false},
		{"ftp://cloud.example", "", false},
		{"cloud.example", "", false},
	} {
		if err := CheckURL(c.url); (err == nil) != c.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
		if c.ok {
			if got := SyncURL(c.url); got != c.sync {
				t.Errorf("SyncURL(%q) = %q, want %q", c.url, got, c.sync)
			}
		}
	}
}

func TestRegisterAnswers(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  int
		body    string
		refused bool // ErrRefused: retrying will not help
		ok      bool
	}{
		{"created", 201, `{"gatewayId":"3","claimCode":"C","credential":"K","claimCodeExpiresAt":5}`, false, true},
		{"incomplete", 201, `{"gatewayId":"3"}`, false, false},
		{"bad request", 400, `{"error":{"message":"name"}}`, true, false},
		{"quota", 429, ``, false, false},
		{"no such endpoint", 404, ``, false, false},
		{"server error", 500, ``, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var gotName string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/api/v1/gateway/register" {
					http.NotFound(w, r)
					return
				}
				gotName = r.Header.Get("Content-Type")
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			id, err := Register(context.Background(), srv.Client(), srv.URL, "Pi", "outpost-gateway/test")
			if (err == nil) != c.ok || errors.Is(err, ErrRefused) != c.refused {
				t.Fatalf("Register = %+v, %v; want ok=%v refused=%v", id, err, c.ok, c.refused)
			}
			if c.ok && (id.GatewayID != "3" || id.Credential != "K" || id.CloudURL != srv.URL || id.ClaimCodeExpiresAt != 5) {
				t.Errorf("identity %+v", id)
			}
			if gotName != "application/json" {
				t.Errorf("Content-Type %q", gotName)
			}
		})
	}
}

func TestRenewClaimCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer K" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"claimCode":"NEW","claimCodeExpiresAt":99}`))
	}))
	defer srv.Close()
	id := Identity{GatewayID: "3", ClaimCode: "OLD", Credential: "K", CloudURL: srv.URL}
	got, err := RenewClaimCode(context.Background(), srv.Client(), id)
	if err != nil || got.ClaimCode != "NEW" || got.ClaimCodeExpiresAt != 99 || got.GatewayID != "3" {
		t.Fatalf("RenewClaimCode = %+v, %v", got, err)
	}
	id.Credential = "wrong"
	if _, err := RenewClaimCode(context.Background(), srv.Client(), id); err == nil {
		t.Error("a refused renewal must fail")
	}
}
