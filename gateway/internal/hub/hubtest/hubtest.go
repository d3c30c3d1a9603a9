// Package hubtest holds the hub.Store that benchmarks use to measure a
// transport and the hub without a database.
package hubtest

import (
	"context"
	"sync/atomic"

	"outpost/gateway/internal/hub"
	"outpost/shared/datastream"
)

// CountStore is a hub.Store that keeps nothing: it counts appended records
// and numbers created devices. Safe for concurrent use.
type CountStore struct {
	appended, ids atomic.Int64
}

var _ hub.Store = (*CountStore)(nil)

// Appended counts the records appended so far.
func (s *CountStore) Appended() int64 { return s.appended.Load() }

func (s *CountStore) Load(context.Context) (hub.Snapshot, error)              { return hub.Snapshot{}, nil }
func (s *CountStore) Append(hub.Record)                                       { s.appended.Add(1) }
func (s *CountStore) SaveTemplate(context.Context, datastream.Template) error { return nil }
func (s *CountStore) UpdateDevice(context.Context, hub.Device) error          { return nil }
func (s *CountStore) DeleteDevice(context.Context, int64) error               { return nil }
func (s *CountStore) Flush(context.Context) error                             { return nil }

// CreateDevice gives the device the next id (1, 2, …).
func (s *CountStore) CreateDevice(_ context.Context, d hub.Device) (hub.Device, error) {
	d.ID = s.ids.Add(1)
	return d, nil
}
