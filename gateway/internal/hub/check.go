package hub

import (
	"fmt"

	"outpost/shared/datastream"
)

// checkTemplate validates a template before it is stored.
func checkTemplate(t datastream.Template) error {
	if t.ID == "" {
		return fmt.Errorf("hub: template without id: %w", datastream.ErrBadTemplate)
	}
	seen := make(map[int]bool, len(t.Datastreams))
	for _, ds := range t.Datastreams {
		if ds.Pin < 0 || ds.Pin > datastream.MaxPin || seen[ds.Pin] {
			return fmt.Errorf("hub: template %s: pin %d: %w", t.ID, ds.Pin, datastream.ErrBadTemplate)
		}
		seen[ds.Pin] = true
	}
	return nil
}
