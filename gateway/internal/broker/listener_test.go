package broker

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// deadlineRecorder is a real TCP connection that records the deadlines
// set on it.
type deadlineRecorder struct {
	net.Conn
	set []time.Time
}

func (d *deadlineRecorder) SetDeadline(t time.Time) error {
	d.set = append(d.set, t)
	return d.Conn.SetDeadline(t)
}

func tcpPair(t *testing.T) (net.Conn, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// TestKeepaliveConnDeadlines: the deadline in force is never before the
// one asked for and at most an eighth of its distance after it; requests
// inside that margin set nothing.
func TestKeepaliveConnDeadlines(t *testing.T) {
	base := time.Now().Add(time.Hour) // far enough that time.Until is about an hour throughout
	at := func(d time.Duration) time.Time { return base.Add(d) }
	for _, tc := range []struct {
		name string
		ask  []time.Time
		sets int // deadlines passed on
	}{
		{"none asked, none set", []time.Time{{}, {}}, 0},
		{"first is set", []time.Time{at(0)}, 1},
		{"inside the margin", []time.Time{at(0), at(time.Second), at(time.Minute)}, 1},
		{"past the margin", []time.Time{at(0), at(8 * time.Minute)}, 2},
		{"earlier than the margin allows", []time.Time{at(0), at(-time.Minute)}, 2},
		{"cleared, then set again", []time.Time{at(0), {}, at(0)}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := tcpPair(t)
			rec := &deadlineRecorder{Conn: c}
			k := &keepaliveConn{Conn: rec}
			for _, a := range tc.ask {
				if err := k.SetDeadline(a); err != nil {
					t.Fatal(err)
				}
				if len(rec.set) == 0 {
					if !a.IsZero() {
						t.Fatalf("asked %v, nothing set", a)
					}
					continue
				}
				got := rec.set[len(rec.set)-1]
				if a.IsZero() != got.IsZero() || !a.IsZero() && (got.Before(a) || got.Sub(a) > time.Until(a)/8+time.Second) {
					t.Fatalf("asked %v, in force %v", a, got)
				}
			}
			if len(rec.set) != tc.sets {
				t.Errorf("%d deadlines set, want %d: %v", len(rec.set), tc.sets, rec.set)
			}
		})
	}
}

// TestKeepaliveConnTimesOut: a connection that sends nothing still ends
// at its (slightly later) deadline, never before the one asked for.
func TestKeepaliveConnTimesOut(t *testing.T) {
	c, _ := tcpPair(t)
	k := &keepaliveConn{Conn: c}
	asked := time.Now().Add(100 * time.Millisecond)
	if err := k.SetDeadline(asked); err != nil {
		t.Fatal(err)
	}
	_, err := k.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read: %v, want a deadline error", err)
	}
	if now := time.Now(); now.Before(asked) {
		t.Fatalf("timed out %v before the deadline asked for", asked.Sub(now))
	}
}
