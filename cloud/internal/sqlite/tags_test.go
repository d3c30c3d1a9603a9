package sqlite

import (
	"context"
	"fmt"
	"testing"

	"outpost/cloud/internal/tenancy"
)

// TestTagCountsFollowDeviceTags: tags.n_devices (which the device list's
// all-tags filter reads to start from the rarest tag) stays equal to the
// tag's devices through tagging, retagging, device deletion and a deleted
// tag's cascade.
func TestTagCountsFollowDeviceTags(t *testing.T) {
	ctx := context.Background()
	st := newSite(t)
	s := st.s
	org := st.mine.OrgID
	var tags [3]tenancy.Tag
	for i := range tags {
		tags[i] = tenancy.Tag{OrgID: org, Name: fmt.Sprint("tag", i)}
		must(t, s.CreateTag(ctx, &tags[i]))
	}
	var devs []tenancy.Device
	for i := range 6 {
		d := tenancy.Device{OrgID: org, TemplateID: st.mine.TemplateID, Name: fmt.Sprint("d", i), Token: fmt.Sprint("tc", i),
			TokenHash: tenancy.HashToken(fmt.Sprint("tc", i))}
		must(t, s.CreateDevice(ctx, &d))
		devs = append(devs, d)
	}
	check := func(step string) {
		t.Helper()
		rows, err := s.db.QueryContext(ctx, `SELECT t.id, t.n_devices, (SELECT count(*) FROM device_tags dt WHERE dt.tag_id = t.id) FROM tags t`)
		must(t, err)
		defer rows.Close()
		for rows.Next() {
			var id, kept, real int64
			must(t, rows.Scan(&id, &kept, &real))
			if kept != real {
				t.Errorf("%s: tag %d counts %d devices, has %d", step, id, kept, real)
			}
		}
		must(t, rows.Err())
	}
	for i, d := range devs {
		set := []tenancy.TagID{tags[0].ID}
		if i%2 == 0 {
			set = append(set, tags[1].ID, tags[1].ID) // a repeat is stored once
		}
		must(t, s.SetDeviceTags(ctx, d.ID, set))
	}
	check("tagged")
	must(t, s.SetDeviceTags(ctx, devs[0].ID, []tenancy.TagID{tags[2].ID}))
	must(t, s.SetDeviceTags(ctx, devs[1].ID, nil))
	check("retagged")
	must(t, s.DeleteDevice(ctx, devs[3].ID))
	check("device deleted")
	must(t, s.DeleteTag(ctx, tags[0].ID))
	check("tag deleted")

	// All of two tags starts from the rarer: tag 2 (one device) before
	// tag 1 (two).
	got, err := s.rarestFirst(ctx, []tenancy.TagID{tags[1].ID, tags[2].ID, 9999})
	must(t, err)
	if want := []tenancy.TagID{9999, tags[2].ID, tags[1].ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("rarestFirst = %v, want %v (a missing tag first, then by count)", got, want)
	}
}
