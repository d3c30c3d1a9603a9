package devicesim

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"outpost/shared/devicesim/fakeserver"
)

func TestFleetWritesAtRateAndMeasuresDownlinks(t *testing.T) {
	tokens := make([]string, 5)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("token-%027d", i)
	}
	srv := fakeserver.New(tokens...)
	srv.DiscardWrites = true
	t.Cleanup(func() { srv.Close() })
	addr, err := srv.Start()
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	f := NewFleet(FleetOptions{Addr: addr.String(), Tokens: append(tokens, "not-a-known-token"), Pin: 4, Rate: 100, Batch: 5 * time.Millisecond})
	if err := f.Connect(ctx); err == nil {
		t.Fatal("Connect with an unknown token succeeded")
	}
	t.Cleanup(f.Close)
	if len(f.Devices()) != len(tokens) {
		t.Fatalf("%d devices connected, want %d", len(f.Devices()), len(tokens))
	}

	// While the fleet runs, the server pushes timestamped writes to each device.
	pushed := make(chan error, 1)
	go func() {
		if err := srv.Wait(ctx, func() bool { return srv.WriteCount() > 0 }); err != nil {
			pushed <- err
			return
		}
		for _, tk := range tokens {
			if _, err := srv.VirtualWrite(tk, 1, strconv.FormatInt(time.Now().UnixNano(), 10)); err != nil {
				pushed <- err
				return
			}
		}
		_, err := srv.VirtualWrite(tokens[0], 2, "not-a-stamp")
		pushed <- err
	}()
	const run = 500 * time.Millisecond
	st := f.Run(ctx, run)
	if err := <-pushed; err != nil {
		t.Fatal(err)
	}

	if st.Devices != len(tokens) || st.Sent == 0 || st.SendErrors != 0 || st.Disconnected != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Never more than the rate allows: each device has at most
	// floor(run·rate)+1 writes due.
	if limit := uint64(len(tokens) * (int(run.Seconds()*100) + 1)); st.Sent+st.Late > limit {
		t.Errorf("sent %d + late %d > %d", st.Sent, st.Late, limit)
	}
	if err := srv.Wait(ctx, func() bool { return srv.WriteCount() == st.Sent }); err != nil {
		t.Fatalf("server accepted %d of %d writes", srv.WriteCount(), st.Sent)
	}
	v, ok := srv.Value(tokens[2], 4)
	if !ok {
		t.Fatal("no value on the fleet's pin")
	}
	if ns, err := strconv.ParseInt(v[0], 10, 64); err != nil || time.Since(time.Unix(0, ns)) > time.Minute {
		t.Errorf("value %q is not a send time", v)
	}
	// The downlinks were pushed at the start of the run, well before its end.
	if st.Downlinks != uint64(len(tokens))+1 || len(st.Latency) != len(tokens) {
		t.Errorf("downlinks %d, latencies %d; want %d and %d", st.Downlinks, len(st.Latency), len(tokens)+1, len(tokens))
	}
	for _, l := range st.Latency {
		if l < 0 {
			t.Errorf("negative latency %v", l)
		}
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 6, 7, 8, 9, 10}
	cases := []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {0, 1}}
	for _, c := range cases {
		if got := Percentile(ds, c.p); got != c.want {
			t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("Percentile(nil) != 0")
	}
}
