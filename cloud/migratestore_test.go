package cloud

import (
	"bytes"
	"context"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"outpost/cloud/internal/postgres"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/telemetry/telemetrytest"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/pgtest"
	"outpost/shared/syncproto"
)

// A cloud copied from SQLite to PostgreSQL reads the same: tenancy,
// credentials, the device list's copies and counters, telemetry with NUL
// in its values; and it goes on (new rows get fresh ids).
func TestMigrateStore(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	path := filepath.Join(t.TempDir(), "cloud.db")
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	site := telemetrytest.NewSite(t, src)
	u := site.Mine.UID
	items := []syncproto.Item{
		{Seq: 1, Kind: syncproto.KindOnline, Device: u, Name: "tcp", TS: 1000},
		{Seq: 2, Kind: syncproto.KindWrite, Device: u, Pin: 1, Value: "20.5", TS: 1001},
		{Seq: 3, Kind: syncproto.KindWrite, Device: u, Pin: 2, Value: "a\x00b", TS: 1002},
		{Seq: 4, Kind: syncproto.KindInfo, Device: u, Value: "fw\x001.2", TS: 1003},
		{Seq: 5, Kind: syncproto.KindEvent, Device: u, Name: "hot", Value: "very", TS: 1004},
	}
	if err := src.Apply(ctx, site.GW, 1, items, 5); err != nil {
		t.Fatal(err)
	}
	gone := tenancy.Device{OrgID: site.Mine.OrgID, TemplateID: site.Mine.TemplateID, Name: "gone", Token: "g", TokenHash: tenancy.HashToken("g")}
	must(t, src.CreateDevice(ctx, &gone))
	must(t, src.DeleteDevice(ctx, gone.ID))
	u1 := tenancy.User{OrgID: site.Mine.OrgID, RoleID: tenancy.RoleAdmin, Email: "a@x.test", Name: "A", Type: tenancy.UserEndUser, Status: tenancy.StatusActive}
	must(t, src.CreateUser(ctx, &u1))
	wantList, err := src.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: site.Mine.OrgID, Subtree: true}, Status: tenancy.OnlyOnline})
	must(t, err)
	src.Close()

	var out, errOut bytes.Buffer
	if code := MigrateStoreCommand(ctx, []string{"--from", path, "--to", dsn}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "every table's count matches") || !strings.Contains(out.String(), "device_history       2") {
		t.Fatalf("output:\n%s", out.String())
	}
	// A second copy into the same database is refused: it is not empty.
	if code := MigrateStoreCommand(ctx, []string{"--from", path, "--to", dsn}, &out, &errOut); code != 1 {
		t.Fatalf("second copy: exit %d", code)
	}

	dst, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	vals, err := dst.DeviceValues(ctx, u)
	must(t, err)
	if len(vals) != 2 || vals[1].Value != "a\x00b" {
		t.Fatalf("values %+v", vals)
	}
	st, ok, err := dst.DeviceStatus(ctx, u)
	if err != nil || !ok || !st.Online || st.Info["fw"] != "1.2" {
		t.Fatalf("status %+v %v %v", st, ok, err)
	}
	if deleted, err := dst.DeviceUIDDeleted(ctx, gone.UID); err != nil || !deleted {
		t.Fatalf("tombstone of a deleted device: %v, %v", deleted, err)
	}
	if n, err := dst.Applied(ctx, site.GW, 1); err != nil || n != 5 {
		t.Fatalf("cursor %d, %v", n, err)
	}
	gotList, err := dst.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: site.Mine.OrgID, Subtree: true}, Status: tenancy.OnlyOnline})
	must(t, err)
	if !reflect.DeepEqual(gotList, wantList) {
		t.Fatalf("device list (online counter and copies): %+v, want %+v", gotList, wantList)
	}
	// The history is read back by device UID (PostgreSQL keys it by a
	// history key, made for the copy), and a new point joins it.
	must(t, dst.Apply(ctx, site.GW, 1, []syncproto.Item{{Seq: 6, Kind: syncproto.KindWrite, Device: u, Pin: 2, Value: "c", TS: 1005}}, 6))
	pts, _, err := dst.History(ctx, u, 2, 0, 10)
	if err != nil || len(pts) != 2 || pts[0].Value != "c" || pts[1].Value != "a\x00b" || pts[1].TS.UnixMilli() != 1002 {
		t.Fatalf("history %+v, %v", pts, err)
	}
	if got, err := dst.GetUserByEmail(ctx, "a@x.test"); err != nil || got.ID != u1.ID {
		t.Fatalf("user %+v %v", got, err)
	}
	// Ids continue after the copied ones; triggers are back on.
	d := tenancy.Device{OrgID: site.Mine.OrgID, TemplateID: site.Mine.TemplateID, Name: "new", Token: "n", TokenHash: tenancy.HashToken("n")}
	must(t, dst.CreateDevice(ctx, &d))
	if last := max(site.Mine.ID, site.Other.ID); d.ID <= last {
		t.Fatalf("new device id %d, not after the copied ones (%d)", d.ID, last)
	}
	all, err := dst.ListDeviceRows(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: site.Mine.OrgID, Subtree: true}})
	must(t, err)
	if all.Total != 2 || len(all.Rows) != 2 {
		t.Fatalf("after a new device: %d devices (%d rows), want 2", all.Total, len(all.Rows))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
