package cloudlink

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"outpost/internal/poll"
	"outpost/shared/rules"
	"outpost/shared/syncproto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const qrHash = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"

const (
	autoA = "01JD5Z8Q3M4N5P6Q7R8S9T0A01"
	autoB = "01JD5Z8Q3M4N5P6Q7R8S9T0A02"
)

func cacheAuto(id, name string) rules.Automation {
	return rules.Automation{ID: id, Name: name, Enabled: true,
		Trigger: rules.Trigger{Kind: rules.TriggerDatastream, Device: uidA, Pin: 0, Op: rules.OpGt, Value: "30"},
		Actions: []rules.Action{{Kind: rules.ActionWrite, Device: uidB, Pin: 1, Value: "1"}}}
}

// TestTenancyCacheSurvivesRestart: the orgs, owners and static tokens the
// cloud sends (a snapshot, then a delta) are kept in the gateway's SQLite
// and are there again after a restart with the cloud unreachable. The
// cache as the link holds it is testdata/tenancy_cache.json.
func TestTenancyCacheSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	fc := newFakeCloud(t)
	snap := &syncproto.Message{Type: syncproto.TypeSnapshot, Snapshot: &syncproto.Tenancy{
		Version: 3,
		Orgs:    []syncproto.Org{{ID: 10, Name: "Acme"}, {ID: 11, Name: "North", ParentID: 10}, {ID: 12, Name: "Gone", ParentID: 10}},
		Owners:  []syncproto.Owner{{ID: 100, Name: "Ann", Email: "ann@acme.example", OrgID: 11}},
		StaticTokens: []syncproto.StaticToken{
			{ID: "7", QRHash: qrHash, TemplateID: "TMPL1", OrgID: 10, TokenHash: hash, Status: syncproto.StaticUnclaimed, DeviceUID: uidA},
			{ID: "8", QRHash: qrHash, TemplateID: "TMPL1", OrgID: 10, TokenHash: hash, Status: syncproto.StaticUnclaimed, DeviceUID: uidB},
		},
		Automations: []rules.Automation{cacheAuto(autoA, "A to B"), cacheAuto(autoB, "to be deleted")},
	}}
	fc.onHello = func(send func(*syncproto.Message) error, h *syncproto.Hello) {
		if h.TenancyVersion == 0 {
			_ = send(snap)
		}
	}
	h, st, _ := realGateway(t, dir, 0)
	r := newRig(t, "", fc, func(o *Options) { o.Hub, o.Store = h, st })
	poll.Within(t, "the snapshot", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion == 3 })
	fc.push(&syncproto.Message{Type: syncproto.TypeDelta, Delta: &syncproto.Delta{From: 3, Version: 4,
		Owners: []syncproto.Owner{{ID: 101, Email: "bob@acme.example", OrgID: 10}},
		StaticTokens: []syncproto.StaticToken{{ID: "7", QRHash: qrHash, TemplateID: "TMPL1", OrgID: 10, TokenHash: hash,
			Status: syncproto.StaticClaimed, DeviceUID: uidA, OwnerID: 100, ClaimedOrgID: 11}},
		Automations: []rules.Automation{cacheAuto(autoA, "A to B, renamed")},
		DeletedOrgs: []int64{12}, DeletedStaticTokens: []string{"8"}, DeletedAutomations: []string{autoB}}})
	poll.Within(t, "the delta", 5*time.Second, func() bool { return r.link.Stats().TenancyVersion == 4 })
	want := r.link.Tenancy()
	if err := r.stop(); err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	st.Close()

	golden := filepath.Join("testdata", "tenancy_cache.json")
	got, err := json.MarshalIndent(want, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(golden); err != nil || string(b) != string(got) {
		t.Errorf("cache differs from %s (err %v):\n%s", golden, err, cmp.Diff(string(b), string(got)))
	}

	// Restart with the cloud refusing the credential: the cache is loaded
	// from SQLite alone.
	h2, st2, _ := realGateway(t, dir, 0)
	defer st2.Close()
	fc.cred = "rotated"
	loaded := make(chan []rules.Automation, 4)
	r2 := newRig(t, "", fc, func(o *Options) {
		o.Hub, o.Store = h2, st2
		o.OnAutomations = func(as []rules.Automation) { loaded <- as }
	})
	// The automations reach the runner from the cache alone.
	select {
	case as := <-loaded:
		if len(as) != 1 || as[0].ID != autoA || as[0].Name != "A to B, renamed" {
			t.Fatalf("automations after restart: %+v", as)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no automations handed over after the restart")
	}
	poll.Within(t, "the cache loaded", 5*time.Second, func() bool { return len(r2.link.Tenancy().Orgs) > 0 })
	got2 := r2.link.Tenancy()
	got2.Version = want.Version // the version is the tenancy cursor's, checked elsewhere
	if diff := cmp.Diff(want, got2); diff != "" {
		t.Errorf("cache after restart (-before +after):\n%s", diff)
	}
}
