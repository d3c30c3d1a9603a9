package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"outpost/cloud/internal/tenancy"
	"outpost/shared/datastream"
)

// TestMetadataEdit: a person with ORG_DEVICES_EDIT sets a metadata field
// on the Info tab; the tenancy service holds it (audited) and the
// gateway's view carries it; a viewer is offered no form and a forged
// post is 403; another org's device is 404; a bad value or field is
// refused.
func TestMetadataEdit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	op := e.signedIn("op@a.test")
	viewer := e.signedIn("viewer@a.test")
	info := fmt.Sprintf("/devices/%d/info", e.devA.ID)
	meta := fmt.Sprintf("/devices/%d/meta", e.devA.ID)

	res := op.get(info)
	for _, want := range []string{`action="` + meta + `"`, `name="value" value="SN-42"`, "reported by the device"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("operator's info tab lacks %q", want)
		}
	}
	res = op.post(meta, url.Values{"name": {"Serial Number"}, "value": {"SN-77 <b>x</b>"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != info+"?meta=saved" {
		t.Fatalf("save: %d %q", res.status, res.header.Get("Location"))
	}
	got, err := e.svc.DeviceMetaValues(ctx, e.admin, e.devA.ID)
	if err != nil || len(got) != 1 || got[0].Name != "Serial Number" || got[0].Value != "SN-77 <b>x</b>" || got[0].UpdatedBy != e.operator.ID {
		t.Fatalf("the service holds %+v, %v", got, err)
	}
	res = op.get(info + "?meta=saved")
	for _, want := range []string{`value="SN-77 &lt;b&gt;x&lt;/b&gt;"`, "set in the cloud", "waiting for the site", "Saved."} {
		if !strings.Contains(res.body, want) {
			t.Errorf("info tab after saving lacks %q", want)
		}
	}
	// The gateway that serves the org receives it with its view.
	g, code, err := e.svc.RegisterGateway(ctx, "Client A Site")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ClaimGateway(ctx, e.admin, code, e.orgA.ID); err != nil {
		t.Fatal(err)
	}
	v, err := e.svc.GatewayView(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m := v.Meta[e.devA.ID]; len(m) != 1 || m[0].Value != "SN-77 <b>x</b>" {
		t.Errorf("gateway view metadata: %+v", v.Meta)
	}
	if res := op.get(fmt.Sprintf("/devices/%d/actions", e.devA.ID)); !strings.Contains(res.body, "device.metadata") {
		t.Errorf("the actions log lacks the metadata change")
	}

	// Refusals.
	if res := viewer.get(info); strings.Contains(res.body, `action="`+meta+`"`) || !strings.Contains(res.body, "SN-77") {
		t.Errorf("viewer's info tab: form offered or value missing")
	}
	for _, c := range []struct {
		name   string
		cl     *client
		path   string
		form   url.Values
		hdr    []string
		status int
		loc    string
	}{
		{"viewer forged", viewer, meta, url.Values{"name": {"Serial Number"}, "value": {"hack"}}, nil, http.StatusForbidden, ""},
		{"another org", op, fmt.Sprintf("/devices/%d/meta", e.devB.ID), url.Values{"name": {"Serial Number"}, "value": {"x"}}, nil, http.StatusNotFound, ""},
		{"unknown field", op, meta, url.Values{"name": {"Nope"}, "value": {"x"}}, nil, http.StatusNotFound, ""},
		{"too long", op, meta, url.Values{"name": {"Serial Number"}, "value": {strings.Repeat("x", 1025)}}, nil, http.StatusSeeOther, info + "?meta=invalid"},
		{"cross-site", op, meta, url.Values{"name": {"Serial Number"}, "value": {"x"}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden, ""},
		{"bad id", op, "/devices/x/meta", url.Values{"name": {"Serial Number"}, "value": {"x"}}, nil, http.StatusNotFound, ""},
	} {
		res := c.cl.post(c.path, c.form, c.hdr...)
		if res.status != c.status || res.header.Get("Location") != c.loc {
			t.Errorf("%s: %d %q, want %d %q", c.name, res.status, res.header.Get("Location"), c.status, c.loc)
		}
	}
	if got, _ := e.svc.DeviceMetaValues(ctx, e.admin, e.devA.ID); len(got) != 1 || got[0].Value != "SN-77 <b>x</b>" {
		t.Errorf("a refused post changed the value: %+v", got)
	}
	if res := op.get(info + "?meta=invalid"); !strings.Contains(res.body, "Not saved") {
		t.Errorf("no error shown for an invalid value")
	}
}

// TestMetaRows: the newer of the value set here and the one reported
// wins; a value set here is "applied" once the site reports it back with
// its time; else the template's default.
func TestMetaRows(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	fields := []datastream.MetaField{{Name: "Serial", Default: "SN-0"}}
	set := []tenancy.DeviceMeta{{Name: "Serial", Value: "A", UpdatedAt: t0}}
	for _, c := range []struct {
		name     string
		set      []tenancy.DeviceMeta
		reported map[string]Value
		want     metaRow
	}{
		{"default", nil, nil, metaRow{Name: "Serial", Value: "SN-0", Source: "template default"}},
		{"reported only", nil, map[string]Value{"Serial": {"R", t0}}, metaRow{Name: "Serial", Value: "R", Source: "reported by the device", At: t0}},
		{"set, not yet applied", set, map[string]Value{"Serial": {"R", t0.Add(-time.Second)}},
			metaRow{Name: "Serial", Value: "A", Source: "set in the cloud", At: t0, Status: "waiting for the site"}},
		{"set and applied", set, map[string]Value{"Serial": {"A", t0}},
			metaRow{Name: "Serial", Value: "A", Source: "set in the cloud", At: t0, Status: "applied at the site"}},
		{"device set it later", set, map[string]Value{"Serial": {"D", t0.Add(time.Second)}},
			metaRow{Name: "Serial", Value: "D", Source: "reported by the device", At: t0.Add(time.Second)}},
		{"field not in template", []tenancy.DeviceMeta{{Name: "Gone", Value: "x", UpdatedAt: t0}}, nil,
			metaRow{Name: "Serial", Value: "SN-0", Source: "template default"}},
	} {
		got := metaRows(fields, c.set, c.reported)
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}
