package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
)

// Notifications to an org reach its members and the Admins above it, are
// stored with why they were sent, are mailed (files in the mailbox
// directory), and stop at the hourly cap until the hour has passed.
func TestNotifyCapsAndMail(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "cloud.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	root := tenancy.Org{Name: "Root", Type: tenancy.OrgRoot}
	if err := st.CreateOrg(ctx, &root); err != nil {
		t.Fatal(err)
	}
	site := tenancy.Org{Name: "Site", ParentID: root.ID}
	if err := st.CreateOrg(ctx, &site); err != nil {
		t.Fatal(err)
	}
	mkUser := func(email string, org tenancy.OrgID, role tenancy.RoleID) tenancy.User {
		u := tenancy.User{Email: email, Name: email, OrgID: org, RoleID: role, Status: tenancy.StatusActive}
		if err := st.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	admin := mkUser("admin@root.test", root.ID, tenancy.RoleAdmin)
	mkUser("staff@root.test", root.ID, tenancy.RoleStaff) // above the site, not an Admin: not notified
	member := mkUser("member@site.test", site.ID, tenancy.RoleUser)
	tree := tenancy.NewTree([]tenancy.Org{root, site}, nil)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	mailbox := filepath.Join(dir, "mailbox")
	svc := notify.New(st, &mail.Mailbox{Dir: mailbox, From: "outpost@test"}, func() *tenancy.Tree { return tree }, 2,
		func() time.Time { return now }, nil)

	for i, want := range []notify.Result{{Sent: 2}, {Sent: 2}, {Capped: 2}} {
		r, err := svc.ToOrg(ctx, site.ID, "Hot", "31 °C", "automation \"heat\" triggered by V0 = 31")
		if err != nil {
			t.Fatal(err)
		}
		if r != want {
			t.Fatalf("call %d: %+v, want %+v", i+1, r, want)
		}
		now = now.Add(time.Minute)
	}
	files, err := os.ReadDir(mailbox)
	if err != nil || len(files) != 4 {
		t.Fatalf("%d mails in the mailbox (%v), want 4", len(files), err)
	}
	for _, u := range []tenancy.User{admin, member} {
		p, err := svc.List(ctx, u.ID, 0, 1)
		if err != nil || len(p.Items) != 1 || p.Items[0].Why == "" || p.Items[0].Read || p.Next != p.Items[0].ID {
			t.Fatalf("%s first page: %+v %v", u.Email, p, err)
		}
		p2, err := svc.List(ctx, u.ID, p.Next, 1)
		if err != nil || len(p2.Items) != 1 || p2.Items[0].ID >= p.Next || p2.Next != 0 {
			t.Fatalf("%s second page: %+v %v", u.Email, p2, err)
		}
		if n, _ := svc.Unread(ctx, u.ID); n != 2 {
			t.Fatalf("%s unread %d", u.Email, n)
		}
		if err := svc.MarkRead(ctx, u.ID, p.Items[0].ID, p.Items[0].ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := svc.Unread(ctx, u.ID); n != 1 {
			t.Fatalf("%s unread %d after reading the first page", u.Email, n)
		}
		if err := svc.MarkAllRead(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := svc.Unread(ctx, u.ID); n != 0 {
			t.Fatalf("%s unread %d after reading", u.Email, n)
		}
	}
	// An hour after the first ones, there is room again.
	now = now.Add(time.Hour)
	if r, err := svc.ToOrg(ctx, site.ID, "Hot", "32 °C", "again"); err != nil || r.Sent != 2 {
		t.Fatalf("after the hour: %+v %v", r, err)
	}
}
