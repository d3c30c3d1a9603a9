package tenancy

import "testing"

// An action note does not know touches every view (the safe side); the
// ones it knows never do.
func TestNoteUnknownActionWakesAll(t *testing.T) {
	tree := NewTree([]Org{{ID: 1, RootID: 1, Depth: 1}, {ID: 2, ParentID: 1, RootID: 1, Depth: 2}}, nil)
	tests := []struct {
		action, objType string
		all             bool
	}{
		{"thing.create", "thing", true},
		{"device.rename", "device", false},
		{"gateway.claim", "gateway", false},
		{"gateway.claim", "gateway-with-a-bad-id", true},
		{"role.rename", "role", false},
		{"template.update", "template", false},
		{"template.enable", "template", false},
		{"user.password.change", "user", false},
	}
	for _, tt := range tests {
		var c Change
		id := any(7)
		if tt.objType == "gateway-with-a-bad-id" {
			tt.objType, id = "gateway", "seven"
		}
		c.note(tree, 2, tt.action, tt.objType, id, nil, nil)
		if c.All != tt.all {
			t.Errorf("%s on %s: All = %v, want %v", tt.action, tt.objType, c.All, tt.all)
		}
	}
}
