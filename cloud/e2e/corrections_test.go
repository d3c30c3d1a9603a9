package e2e

import (
	"strings"
	"testing"
)

// Issue 11's tenancy corrections, each over real HTTP on a real SQLite
// file.

// wantForbidden asserts a 403 in the API's error shape naming perm.
func wantForbidden(t *testing.T, what string, r resp, perm string) {
	t.Helper()
	if r.status != 403 {
		t.Errorf("%s: got %s, want 403 naming %s", what, r, perm)
		return
	}
	if msg := r.errMsg(t); !strings.Contains(msg, perm) {
		t.Errorf("%s: 403 %q does not name %s", what, msg, perm)
	}
}

// A caller who sees an org but lacks the key is told which key; what it
// cannot see stays a 404 identical to a missing id.
func TestForbiddenNamesMissingPermission(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	m, r := f.tok["M"], f.tok["R"]
	wantForbidden(t, "User creates a device in its own org",
		f.req("POST", o+"/device/create", m, map[string]any{"templateId": f.tmpl, "name": "mine"}), "ORG_DEVICES_CREATE")
	wantForbidden(t, "User invites into its own org",
		f.req("POST", o+"/users/invite", m, map[string]any{"email": "n@usbranch.test", "name": "N", "roleId": 3}), "USERS_INVITE")
	wantForbidden(t, "Staff lists roles of its own org", f.req("GET", q(o+"/roles", "orgId", f.muller), r, nil), "ROLES_VIEW")
	wantForbidden(t, "Staff creates an OAuth client", f.req("POST", o+"/oauth-clients/create", r, map[string]any{"name": "c"}), "OAUTH_CLIENTS_CREATE")
	// Objects stay hidden: M cannot view devices, so its own Pool Heater
	// answers like a missing id.
	same404(t, f.req("GET", q(o+"/device", "deviceId", f.dev["Pool Heater"]), m, nil),
		f.req("GET", q(o+"/device", "deviceId", 987654), m, nil))
	// Out of scope orgs stay hidden too.
	same404(t, f.req("POST", o+"/device/create", m, map[string]any{"templateId": f.tmpl, "name": "x", "orgId": f.muller}),
		f.req("POST", o+"/device/create", m, map[string]any{"templateId": f.tmpl, "name": "x", "orgId": 987654}))
}
