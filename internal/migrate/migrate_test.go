package migrate

import (
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// Apply itself runs against real SQLite files in the two stores' tests
// (this package brings no driver); here: the naming rule.
func TestList(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  string // versions:names, or the start of an error
	}{
		{"sorted by number, not text", []string{"0010_b.sql", "0002_a.sql", "0001_init.sql"}, "1:0001_init.sql 2:0002_a.sql 10:0010_b.sql"},
		{"gaps allowed", []string{"0001_a.sql", "0003_c.sql"}, "1:0001_a.sql 3:0003_c.sql"},
		{"other files ignored", []string{"0001_a.sql", "README.md"}, "1:0001_a.sql"},
		{"empty", nil, ""},
		{"no number", []string{"init.sql"}, "error: migrate: init.sql"},
		{"zero", []string{"0000_zero.sql"}, "error: migrate: 0000_zero.sql"},
		{"no underscore", []string{"0001.sql"}, "error: migrate: 0001.sql"},
		{"no name", []string{"0001_.sql"}, "error: migrate: 0001_.sql"},
		{"sign", []string{"+001_a.sql"}, "error: migrate: +001_a.sql"},
		{"same version twice", []string{"0004_mine.sql", "0004_theirs.sql"}, "error: migrate: 0004_mine.sql and 0004_theirs.sql share version 4"},
		{"same version, other spelling", []string{"4_a.sql", "0004_b.sql"}, "error: migrate: 0004_b.sql and 4_a.sql share version 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{"m": &fstest.MapFile{Mode: fs.ModeDir | 0o755}}
			for _, f := range tt.files {
				fsys["m/"+f] = &fstest.MapFile{Data: []byte("SELECT 1;")}
			}
			ms, err := List(fsys, "m")
			var got string
			if err != nil {
				got = "error: " + err.Error()
			} else {
				var parts []string
				for _, m := range ms {
					parts = append(parts, fmt.Sprintf("%d:%s", m.Version, m.Name))
				}
				got = strings.Join(parts, " ")
			}
			if !strings.HasPrefix(got, tt.want) || (tt.want == "" && got != "") {
				t.Errorf("List = %q, want %q", got, tt.want)
			}
		})
	}
}
