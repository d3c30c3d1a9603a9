package bridge

import (
	"context"
	"testing"
)

// stopRunner runs until its context ends.
type stopRunner struct {
	name    string
	started chan struct{}
	stopped chan struct{}
}

func (f *stopRunner) Run(ctx context.Context) error {
	close(f.started)
	<-ctx.Done()
	close(f.stopped)
	return ctx.Err()
}

func (f *stopRunner) Status() Status { return Status{Kind: "serial", Name: f.name} }

func newStopRunner(name string) *stopRunner {
	return &stopRunner{name: name, started: make(chan struct{}), stopped: make(chan struct{})}
}

// TestManagerAddRemoveWhileRunning: a bridge added to a running manager
// starts at once; Remove stops it and returns once it has stopped.
func TestManagerAddRemoveWhileRunning(t *testing.T) {
	m := NewManager(ManagerOptions{})
	first := newStopRunner("first")
	m.Add(first)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	<-first.started
	late := newStopRunner("late")
	m.Add(late)
	<-late.started
	if n := len(m.Status()); n != 2 {
		t.Errorf("%d bridges, want 2", n)
	}
	if !m.Remove(late) {
		t.Fatal("Remove of a running bridge = false")
	}
	select {
	case <-late.stopped:
	default:
		t.Error("Remove returned before the bridge stopped")
	}
	if m.Remove(late) {
		t.Error("a second Remove = true")
	}
	if st := m.Status(); len(st) != 1 || st[0].Name != "first" {
		t.Errorf("status after Remove = %+v", st)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	<-first.stopped
}
