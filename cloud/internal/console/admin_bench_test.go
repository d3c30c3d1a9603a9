package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/auth"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
	"outpost/internal/proccpu"
)

// addAdminRows gives the 100,000-device tree the people and history the
// administration pages list: 10 users in each of the 1,000 leaves and an
// audit entry for every device.
func (s *benchSite) addAdminRows(b *testing.B) {
	ctx := context.Background()
	now := time.Now().UTC()
	err := s.st.Atomic(ctx, func(tx tenancy.Tx) error {
		l, err := tx.ListDevices(ctx, tenancy.DeviceFilter{Scope: tenancy.Scope{OrgID: s.svc.Tree().Root(1), Subtree: true}, Page: tenancy.Page{Size: 1}})
		if err != nil || l.Total != 100_000 {
			return fmt.Errorf("fixture: %d devices, %v", l.Total, err)
		}
		leaves := 0
		for id := tenancy.OrgID(1); leaves < 1000; id++ {
			if !s.svc.Tree().Has(id) || s.svc.Tree().Depth(id) != 4 {
				continue
			}
			leaves++
			for j := range 10 {
				u := tenancy.User{OrgID: id, RoleID: tenancy.RoleUser, Email: fmt.Sprintf("u%d-%d@bench.test", id, j), Name: fmt.Sprintf("User %d-%d", id, j),
					Type: tenancy.UserEndUser, Status: tenancy.StatusActive, PasswordHash: "x", CreatedAt: now, UpdatedAt: now, LastLoginAt: now}
				if err := tx.CreateUser(ctx, &u); err != nil {
					return err
				}
			}
		}
		for i := 1; i <= 100_000; i++ {
			after, _ := json.Marshal(map[string]any{"id": i, "name": fmt.Sprintf("Device %d", i)})
			e := tenancy.AuditEntry{At: now.Add(time.Duration(i-100_000) * time.Second), OrgID: tenancy.OrgID(12 + i%1000), UserID: 1,
				Action: "device.create", ObjectType: "device", ObjectID: fmt.Sprint(i), After: after}
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// serverTimes runs path as ck b.N times and reports the handler's p50
// and p99 wall time, and the process's CPU time per request (on a busy
// machine the wall times include waiting for a core; the CPU time does
// not).
func serverTimes(b *testing.B, c *Console, path string, ck *http.Cookie) {
	var durs []time.Duration
	cpu0 := proccpu.Self()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(ck)
		w := httptest.NewRecorder()
		t0 := time.Now()
		c.ServeHTTP(w, req)
		durs = append(durs, time.Since(t0))
		if w.Code != http.StatusOK {
			b.Fatalf("%s: %d %s", path, w.Code, w.Body)
		}
	}
	cpu := proccpu.Self() - cpu0
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(durs)), "cpu-ms/op")
}

// BenchmarkAdminPages100k is the server time of the administration pages'
// first page on the 1,111-org, 100,000-device tree with 10,000 users and
// 100,000 audit entries: the whole handler (session, header, queries,
// rendering). RootOrgTree renders all 1,111 orgs with their counts.
func BenchmarkAdminPages100k(b *testing.B) {
	s := newBenchSite(b)
	s.addAdminRows(b)
	for _, tc := range []struct {
		name, path string
		ck         *http.Cookie
	}{
		{"RootOrgTree", "/orgs", s.rootCookie},
		{"RootOrgSearch", "/orgs?q=Org+4-42", s.rootCookie},
		{"RootUsers", "/users", s.rootCookie},
		{"RootUsersSearch", "/users?q=User+500", s.rootCookie},
		{"RootUsersByTag", fmt.Sprintf("/users?tag=%d", s.roof), s.rootCookie},
		{"RootDeviceNewPicker", "/devices/new", s.rootCookie},
		{"RootPickOrgs", "/pick/orgs?for=devices.create&q=Org+4-99", s.rootCookie},
		{"RootAudit", "/audit", s.rootCookie},
		{"RootAuditByAction", "/audit?action=device.create&user=1", s.rootCookie},
		{"RootRoles", "/roles", s.rootCookie},
		{"LeafStaffOrgs", "/orgs", s.staff},
		{"LeafStaffUsers", "/users", s.staff},
		{"LeafStaffAudit", "/audit", s.staff},
	} {
		b.Run(tc.name, func(b *testing.B) { serverTimes(b, s.c, tc.path, tc.ck) })
	}
}

// BenchmarkBulkInvite1000 posts a 1,000-row CSV to the bulk invitation
// form and waits for its report (every row invited, each in its own
// transaction, each mailed). Every round adds 1,000 invitations that the
// daily limit's count then reads: run it a few times (-benchtime 3x),
// not thousands.
func BenchmarkBulkInvite1000(b *testing.B) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "cloud.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	svc, err := tenancy.New(ctx, tenancy.Deps{Store: st, Hasher: auth.Passwords{Cost: 4}}, tenancy.Config{InvitesPerDay: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.Bootstrap(ctx, tenancy.Bootstrap{OrgName: "Bulk Root", AdminEmail: "root@bulk.test", Password: pw}); err != nil {
		b.Fatal(err)
	}
	mails := &mailbox{}
	c, err := New(Options{Service: svc, Mailer: mails, PublicURL: "http://bulk.test"})
	if err != nil {
		b.Fatal(err)
	}
	res, err := svc.Login(ctx, tenancy.Login{Email: "root@bulk.test", Password: pw})
	if err != nil {
		b.Fatal(err)
	}
	ck := &http.Cookie{Name: sessionCookie, Value: res.Token}
	var durs []time.Duration
	round := 0
	cpu0 := proccpu.Self()
	for b.Loop() {
		round++
		var csv strings.Builder
		csv.WriteString("email,name,role,phone\n")
		for i := range 1000 {
			fmt.Fprintf(&csv, "person%04d-r%d@bulk.test,Person %d of round %d,User,+49 30 1234 %04d\n", i, round, i, round, i)
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "people.csv")
		fw.Write([]byte(csv.String()))
		mw.WriteField("org", "1")
		mw.Close()
		req := httptest.NewRequest(http.MethodPost, "/users/import", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.AddCookie(ck)
		w := httptest.NewRecorder()
		t0 := time.Now()
		c.ServeHTTP(w, req)
		durs = append(durs, time.Since(t0))
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Report: 1000 invited, 0 refused") {
			b.Fatalf("bulk invite: %d %.500s", w.Code, w.Body)
		}
	}
	cpu := proccpu.Self() - cpu0
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(round), "cpu-ms/op")
	b.ReportMetric(float64(len(mails.msgs))/float64(round), "mails/op")
}
