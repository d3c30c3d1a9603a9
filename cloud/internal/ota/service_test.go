package ota_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"path/filepath"
	"testing"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/ota"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/shared/blnkinf"
	"outpost/shared/datastream"
)

type fixture struct {
	svc   *ota.Service
	ten   *tenancy.Service
	admin tenancy.Actor
	tmpl  tenancy.Template
	blobs ota.DirBlobs
	// changes is what OnChange was given, in order.
	changes []tenancy.Change
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ten, err := tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	org, u, err := ten.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Root", AdminEmail: "admin@example.com", Password: "admin-password"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ten: ten, admin: tenancy.Actor{UserID: u.ID, OrgID: org.ID, RoleID: u.RoleID}, blobs: ota.DirBlobs{Dir: filepath.Join(dir, "firmware")}}
	f.tmpl, err = ten.CreateTemplate(ctx, f.admin, tenancy.NewTemplate{Def: datastream.Template{Name: "Thermostat"}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, err = ota.New(ota.Options{Tenancy: ten, Store: st, Blobs: f.blobs, MaxImageBytes: 1 << 20,
		OnChange: func(c tenancy.Change) { f.changes = append(f.changes, c) }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Image builds a fake firmware image holding a tag.
func Image(typ, version, build string, size int) []byte {
	b := bytes.Repeat([]byte{0xE9, 0x5A, 0x00, 0x17}, size/4)
	tag := blnkinf.Encode(blnkinf.Tag{Version: version, Type: typ, Build: build, Blynk: "1.3.2"})
	copy(b[len(b)/3:], tag)
	return b
}

func TestUploadChecksTheTag(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tid := string(f.tmpl.ID)
	for _, tc := range []struct {
		name  string
		image []byte
		ok    bool
	}{
		{"matching", Image(tid, "1.1.0", "Dec  3 2026 02:00:00", 64<<10), true},
		{"another template", Image("TMPLOTHER", "1.1.0", "Dec  3 2026 02:00:00", 64<<10), false},
		{"no tag", bytes.Repeat([]byte{1}, 4096), false},
		{"no build", Image(tid, "1.1.0", "", 4096), false},
		{"too large", Image(tid, "1.1.0", "b", 2<<20), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fw, err := f.svc.Upload(ctx, f.admin, f.tmpl.ID, "fw.bin", tc.image)
			if !tc.ok {
				if tenancy.CodeOf(err) != tenancy.Invalid {
					t.Fatalf("err = %v, want Invalid", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fw.Version != "1.1.0" || fw.Size != int64(len(tc.image)) {
				t.Errorf("firmware %+v", fw)
			}
			b, err := f.blobs.Open(ctx, fw.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var got bytes.Buffer
			got.ReadFrom(b)
			if !bytes.Equal(got.Bytes(), tc.image) {
				t.Error("stored image differs from the upload")
			}
		})
	}
	l, err := f.svc.Firmwares(ctx, f.admin, f.tmpl.ID)
	if err != nil || len(l) != 1 {
		t.Fatalf("list = %v, %v; want the one accepted image", l, err)
	}
}

func TestShipmentLifecycleAndReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fw, err := f.svc.Upload(ctx, f.admin, f.tmpl.ID, "fw.bin", Image(string(f.tmpl.ID), "2.0.0", "b2", 8192))
	if err != nil {
		t.Fatal(err)
	}
	var devs []tenancy.Device
	for _, name := range []string{"=cmd|calc", "Kitchen"} {
		d, err := f.ten.CreateDevice(ctx, f.admin, tenancy.NewDevice{TemplateID: f.tmpl.ID, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	if _, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "", FirmwareID: fw.ID}); tenancy.CodeOf(err) != tenancy.Invalid {
		t.Fatalf("empty name: %v", err)
	}
	sh, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "v2 rollout", FirmwareID: fw.ID, UserControlled: true, Window: ota.Night})
	if err != nil {
		t.Fatal(err)
	}
	if sh.State != ota.Live || sh.Attempts != ota.DefaultAttempts || sh.Rule != ota.LowerVersion {
		t.Errorf("shipment %+v", sh)
	}
	if _, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "v2 rollout", FirmwareID: fw.ID}); tenancy.CodeOf(err) != tenancy.Conflict {
		t.Fatalf("duplicate name: %v", err)
	}
	for _, step := range []struct {
		act  ota.Action
		want ota.State
		ok   bool
	}{{ota.Pause, ota.Paused, true}, {ota.Resume, ota.Live, true}, {ota.Cancel, ota.Cancelled, true}, {ota.Resume, ota.Cancelled, false}} {
		got, err := f.svc.Change(ctx, f.admin, sh.ID, step.act)
		if (err == nil) != step.ok {
			t.Fatalf("%s: err %v", step.act, err)
		}
		if err == nil && got.State != step.want {
			t.Fatalf("%s: state %s", step.act, got.State)
		}
	}
	sh2, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "v2 again", FirmwareID: fw.ID, UserControlled: true, Devices: []tenancy.DeviceID{devs[0].ID}})
	if err != nil {
		t.Fatal(err)
	}
	awaiting := func(d tenancy.DeviceID) int {
		t.Helper()
		l, err := f.svc.AwaitingApproval(ctx, f.admin, d)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	if awaiting(devs[0].ID) != 1 || awaiting(devs[1].ID) != 0 {
		t.Fatalf("awaiting approval: %d for the listed device (want 1), %d for the other (want 0)", awaiting(devs[0].ID), awaiting(devs[1].ID))
	}
	if err := f.svc.Approve(ctx, f.admin, sh2.ID, devs[1].ID); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Fatalf("approving a device outside the list: %v", err)
	}
	if err := f.svc.Approve(ctx, f.admin, sh2.ID, devs[0].ID); err != nil {
		t.Fatal(err)
	}
	if n := awaiting(devs[0].ID); n != 0 {
		t.Fatalf("still %d awaiting approval after the approval", n)
	}
	_, rows, err := f.svc.Statuses(ctx, f.admin, sh2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || !rows[0].Approved || rows[0].Status != ota.AwaitingUser {
		t.Fatalf("rows %+v", rows)
	}
	_, all, err := f.svc.Statuses(ctx, f.admin, sh.ID)
	if err != nil || len(all) != 2 {
		t.Fatalf("empty list targets every device of the template: %d rows, %v", len(all), err)
	}
	var buf bytes.Buffer
	if err := ota.WriteCSV(&buf, all); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[1][1] != "'=cmd|calc" || recs[1][2] != string(ota.AwaitingUser) {
		t.Errorf("csv %q", recs)
	}
}

func TestSubOrgCannotUpload(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sub, err := f.ten.CreateOrg(ctx, f.admin, tenancy.NewOrg{ParentID: f.admin.OrgID, Name: "Branch"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.ten.CreateUser(ctx, f.admin, tenancy.NewUser{Email: "b@example.com", Name: "B", OrgID: sub.ID, RoleID: tenancy.RoleAdmin, Password: "branch-password"})
	if err != nil {
		t.Fatal(err)
	}
	a := tenancy.Actor{UserID: u.ID, OrgID: sub.ID, RoleID: u.RoleID}
	_, err = f.svc.Upload(ctx, a, f.tmpl.ID, "fw.bin", Image(string(f.tmpl.ID), "1", "b", 4096))
	var te *tenancy.Error
	if !errors.As(err, &te) || te.Code != tenancy.Forbidden {
		t.Fatalf("sub-org upload: %v", err)
	}
}

// Deleting a template takes its firmware and shipments with it.
func TestTemplateDeletionCascades(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	fw, err := f.svc.Upload(ctx, f.admin, f.tmpl.ID, "fw.bin", Image(string(f.tmpl.ID), "1.0.0", "b", 4096))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := f.svc.CreateShipment(ctx, f.admin, ota.NewShipment{Name: "s", FirmwareID: fw.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.ten.DeleteTemplate(ctx, f.admin, f.tmpl.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Shipment(ctx, f.admin, sh.ID); tenancy.CodeOf(err) != tenancy.NotFound {
		t.Errorf("shipment after its template's deletion: %v", err)
	}
	if l, err := f.svc.Shipments(ctx, f.admin); err != nil || len(l) != 0 {
		t.Errorf("shipments left: %v, %v", l, err)
	}
}
