package notify_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"outpost/cloud/internal/mail"
	"outpost/cloud/internal/notify"
	"outpost/cloud/internal/sqlite"
	"outpost/cloud/internal/tenancy"
)

// BenchmarkNotifyToMailQueued measures a notification from the call to
// its mail written to the mailbox directory (stored, capped, mailed) for
// an organization of 3 people, and reports the p99 (target for event →
// mail queued: ≤ 100 ms). The cap is lifted so every call mails.
func BenchmarkNotifyToMailQueued(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "cloud.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	org := tenancy.Org{Name: "Root", Type: tenancy.OrgRoot}
	if err := st.CreateOrg(ctx, &org); err != nil {
		b.Fatal(err)
	}
	for _, e := range []string{"a@x.test", "b@x.test", "c@x.test"} {
		u := tenancy.User{Email: e, Name: e, OrgID: org.ID, RoleID: tenancy.RoleUser, Status: tenancy.StatusActive}
		if err := st.CreateUser(ctx, &u); err != nil {
			b.Fatal(err)
		}
	}
	tree := tenancy.NewTree([]tenancy.Org{org}, nil)
	svc := notify.New(st, &mail.Mailbox{Dir: filepath.Join(dir, "mailbox"), From: "o@x.test"},
		func() *tenancy.Tree { return tree }, 1<<30, nil, nil)
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if r, err := svc.ToOrg(ctx, org.ID, "Hot", "31 °C", "benchmark"); err != nil || r.Sent != 3 {
			b.Fatal(r, err)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
