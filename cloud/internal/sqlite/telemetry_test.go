package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// site is telemetrytest's Site on this store: a claimed gateway in org A
// with one device, and a device of another root org it does not serve.
type site struct {
	s           *Store
	gw          string
	mine, other tenancy.Device
}

func newSite(t *testing.T) site {
	t.Helper()
	s := newTestStore(t)
	t.Cleanup(func() { s.Close() })
	return newSiteIn(t, s)
}

func newSiteIn(t testing.TB, s *Store) site {
	t.Helper()
	st := telemetrytest.NewSite(t, s)
	return site{s: s, gw: st.GW, mine: st.Mine, other: st.Other}
}

func TestTelemetryConformance(t *testing.T) {
	telemetrytest.Run(t, func(t *testing.T) telemetrytest.Store {
		s := newTestStore(t)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDeviceUIDsAreAssignedAndBackfilled(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "cloud.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	o := tenancy.Org{Name: "R", Type: tenancy.OrgRoot}
	must(t, s.CreateOrg(ctx, &o))
	must(t, s.CreateTemplate(ctx, tenancy.Template{ID: "T", RootID: o.ID, Def: datastream.Template{ID: "T", Name: "T"}}))
	d := tenancy.Device{OrgID: o.ID, TemplateID: "T", Name: "d", Token: "x", TokenHash: tenancy.HashToken("x")}
	must(t, s.CreateDevice(ctx, &d))
	if len(d.UID) != 26 {
		t.Fatalf("UID %q, want a 26-character ULID", d.UID)
	}
	got, err := s.GetDevice(ctx, d.ID)
	must(t, err)
	if got.UID != d.UID {
		t.Fatalf("UID round trip: %q, want %q", got.UID, d.UID)
	}
	// A row from before the migration (uid NULL) gets one on the next open.
	_, err = s.db.ExecContext(ctx, `UPDATE devices SET uid = NULL WHERE id = ?`, int64(d.ID))
	must(t, err)
	s.Close()
	s, err = Open(ctx, path)
	must(t, err)
	defer s.Close()
	got, err = s.GetDevice(ctx, d.ID)
	must(t, err)
	if len(got.UID) != 26 {
		t.Fatalf("backfilled UID %q", got.UID)
	}
}

func TestGatewayCredentialLookup(t *testing.T) {
	st := newSite(t)
	ctx := context.Background()
	g, err := st.s.GetGatewayByCredentialHash(ctx, tenancy.HashToken("cred"))
	must(t, err)
	if g.CredentialHash != tenancy.HashToken("cred") {
		t.Fatal("credential hash not round-tripped")
	}
	g.CredentialHash = [32]byte{}
	must(t, st.s.UpdateGateway(ctx, g))
	for _, h := range [][32]byte{tenancy.HashToken("cred"), {}} {
		if _, err := st.s.GetGatewayByCredentialHash(ctx, h); tenancy.CodeOf(err) != tenancy.NotFound {
			t.Fatalf("revoked credential: err %v, want NotFound", err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
