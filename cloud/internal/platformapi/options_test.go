package platformapi

import (
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
)

// The API has no defaults of its own (they live in cloud.Defaults): what
// makes no sense is refused, not replaced.
func TestNewRefusesNonsenseOptions(t *testing.T) {
	svc := &tenancy.Service{}
	ok := Options{Service: svc, RateLimit: 100, MaxBodyBytes: 1 << 20}
	tests := []struct {
		name    string
		mod     func(*Options)
		wantErr string
	}{
		{"explicit values", func(*Options) {}, ""},
		{"rate limit off", func(o *Options) { o.RateLimit = -1 }, ""},
		{"auth cache off", func(o *Options) { o.AuthCacheTTL = 0 }, ""},
		{"auth cache on", func(o *Options) { o.AuthCacheTTL = time.Second }, ""},
		{"no service", func(o *Options) { o.Service = nil }, "Service"},
		{"no rate limit", func(o *Options) { o.RateLimit = 0 }, "RateLimit"},
		{"no body limit", func(o *Options) { o.MaxBodyBytes = 0 }, "MaxBodyBytes"},
		{"negative body limit", func(o *Options) { o.MaxBodyBytes = -1 }, "MaxBodyBytes"},
		{"negative auth cache", func(o *Options) { o.AuthCacheTTL = -time.Second }, "AuthCacheTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.mod(&o)
			api, err := New(o)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New = %v", err)
				}
				if api.maxBody != o.MaxBodyBytes || api.auth.ttl != o.AuthCacheTTL {
					t.Errorf("API took maxBody %d, auth ttl %v; want the options' %d, %v", api.maxBody, api.auth.ttl, o.MaxBodyBytes, o.AuthCacheTTL)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}
