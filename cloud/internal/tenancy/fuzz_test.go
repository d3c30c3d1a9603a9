package tenancy

import (
	"strings"
	"testing"
)

var csvSeeds = []string{
	"email,name,role\nok1@x.test,One,User\nnot-an-email,Two,User\n",
	"a@x.test,A\nb@x.test,B,Staff,+1 555\n",
	"name,email\nAnn,ann@x.test\n",
	"\"broken,quote\n",
	"email\n\n\na@x.test\n",
	"phone,role,email,name\n1,Admin,a@x.test,\"Ann, Jr.\"\n",
	"",
	"\xff\xfe,\x00\n",
}

// FuzzParseInviteCSV: any bytes give a report, never a panic; every row is
// accounted for with a positive line number and trimmed fields.
func FuzzParseInviteCSV(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, bad := ParseInviteCSV(data)
		if len(rows)+len(bad) > MaxCSVRows+1 {
			t.Fatalf("%d results for a %d-row limit", len(rows)+len(bad), MaxCSVRows)
		}
		for _, r := range rows {
			if r.Line < 1 {
				t.Fatalf("row line %d", r.Line)
			}
			for _, v := range []string{r.Email, r.Name, r.Role, r.Phone} {
				if v != strings.TrimSpace(v) {
					t.Fatalf("untrimmed field %q", v)
				}
			}
		}
		for _, b := range bad {
			if b.Created || b.Code == "" || b.Error == "" {
				t.Fatalf("refusal without a reason: %+v", b)
			}
		}
	})
}

func TestParseInviteCSV(t *testing.T) {
	tests := []struct {
		in       string
		wantRows []InviteRow
		wantBad  int
	}{
		{"a@x.test,Ann\n", []InviteRow{{Line: 1, Email: "a@x.test", Name: "Ann"}}, 0},
		{"name,email\nAnn , a@x.test\n", []InviteRow{{Line: 2, Email: "a@x.test", Name: "Ann"}}, 0},
		{"email,name,role,phone\na@x.test,Ann,Staff,123\n\nb@x.test,Bob\n", []InviteRow{
			{Line: 2, Email: "a@x.test", Name: "Ann", Role: "Staff", Phone: "123"}, {Line: 4, Email: "b@x.test", Name: "Bob"}}, 0},
		// Without an email column the first line is data; InviteCSV then refuses it per row.
		{"name,role\nAnn,User\n", []InviteRow{{Line: 1, Email: "name", Name: "role"}, {Line: 2, Email: "Ann", Name: "User"}}, 0},
		{"a@x.test,\"Ann\nb\"x,1\nc@x.test,C\n", []InviteRow{{Line: 3, Email: "c@x.test", Name: "C"}}, 1},
	}
	for _, tc := range tests {
		rows, bad := ParseInviteCSV([]byte(tc.in))
		if len(bad) != tc.wantBad || len(rows) != len(tc.wantRows) {
			t.Fatalf("%q: rows %+v bad %+v", tc.in, rows, bad)
		}
		for i := range rows {
			if rows[i] != tc.wantRows[i] {
				t.Errorf("%q row %d: %+v, want %+v", tc.in, i, rows[i], tc.wantRows[i])
			}
		}
	}
	var big strings.Builder
	for i := 0; i < MaxCSVRows+10; i++ {
		big.WriteString("a@x.test,A\n")
	}
	rows, bad := ParseInviteCSV([]byte(big.String()))
	if len(rows) != MaxCSVRows || len(bad) != 1 || bad[0].Code != LimitReached {
		t.Fatalf("limit: %d rows, bad %+v", len(rows), bad)
	}
}

func TestNormEmail(t *testing.T) {
	for in, want := range map[string]string{
		" Ann@Example.COM ":   "ann@example.com",
		"a.b+tag@x.co.uk":     "a.b+tag@x.co.uk",
		"no-at.example.com":   "",
		"@example.com":        "",
		"a@b@example.com":     "",
		"a@localhost":         "",
		"a@.example.com":      "",
		"a@example..com":      "",
		"a b@example.com":     "",
		"a@example.com\x00":   "",
		"<a@example.com>":     "",
		"Ann <a@example.com>": "",
	} {
		got, err := normEmail(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("normEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParseQR: a scanned QR (any text) gives a token and an org or a
// refusal, never a panic; what QRPayload writes reads back the same.
func FuzzParseQR(f *testing.F) {
	for _, s := range []string{"sqr_abc", "sqr_abc+12", " sqr_abc+12 ", "sqr_abc+", "+12", "sqr_abc+-3", "sqr_abc++3",
		"sqr_abc+99999999999999999999", "sqr+1+2", "\x00+1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		qr, org, ok := parseQR(s)
		if !ok {
			return
		}
		if qr == "" || org < 0 || strings.Contains(qr, "+") && org != 0 {
			t.Fatalf("parseQR(%q) = %q, %d", s, qr, org)
		}
		if org != 0 {
			qr2, org2, ok2 := parseQR(QRPayload(StaticToken{QR: qr, OrgID: org}))
			if !ok2 || qr2 != qr || org2 != org {
				t.Fatalf("round trip of %q: %q %d %v", s, qr2, org2, ok2)
			}
		}
	})
}

// FuzzDeviceCursor: a cursor comes from the browser; any string decodes to
// a valid cursor or an Invalid error, and a valid one round-trips.
func FuzzDeviceCursor(f *testing.F) {
	f.Add(encodeDeviceCursor(deviceCursor{Sort: SortName, Text: "Boiler", ID: 7, Total: 9}))
	f.Add(encodeDeviceCursor(deviceCursor{Sort: SortLastReported, Desc: true, Num: 1764000000000, ID: 1, Total: 100000}))
	f.Add("")
	f.Add("e30")          // {}
	f.Add("!!!")          // not base64
	f.Add("eyJzIjoieCJ9") // unknown sort
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeDeviceCursor(s)
		if err != nil {
			if CodeOf(err) != Invalid {
				t.Fatalf("error %v is not Invalid", err)
			}
			return
		}
		if !c.Sort.valid() || c.ID <= 0 || c.Total < 0 {
			t.Fatalf("accepted %+v", c)
		}
		again, err := decodeDeviceCursor(encodeDeviceCursor(c))
		if err != nil || again != c {
			t.Fatalf("round trip %+v → %+v, %v", c, again, err)
		}
	})
}
