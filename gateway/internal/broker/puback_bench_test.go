package broker

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"outpost/gateway/internal/sqlite"
	"outpost/internal/poll"
)

// BenchmarkPubackLatency measures publish→PUBACK through the real broker
// and the real SQLite store (group commit; the PUBACK follows the commit
// of its write) on 127.0.0.1: 200 devices publish QoS 1 at a steady
// offered rate, each publish its own write, and every PUBACK is timed
// from the moment its publish was written. It reports the p50, p99 and
// maximum in milliseconds, the rate achieved and the records per commit.
// b.N is the number of publishes; for stable quantiles run it with
// -benchtime 20000x or more.
//
// The rate is open loop (a publish is due at its time whether or not
// earlier ones were acknowledged, as independent devices send), and the
// latency is counted from when a publish was due, not from when the
// pacer got round to writing it, so a late pacer adds to the figure
// instead of hiding a stall (coordinated omission).
func BenchmarkPubackLatency(b *testing.B) {
	for _, rate := range []int{2000, 10000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchPubackLatency(b, 200, rate) })
	}
}

func benchPubackLatency(b *testing.B, clients, rate int) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(b.TempDir(), "gw.db")})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() }) // after the broker stops (cleanups run last first)
	br, addr := benchBrokerOn(b, st, clients)

	devs := make([]*pubackClient, clients)
	for i := range devs {
		c, err := rawConnect(addr, i)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		devs[i] = &pubackClient{c: c, due: make([]atomic.Int64, 1<<16)}
	}
	poll.Within(b, fmt.Sprintf("%d connections", clients), 30*time.Second, func() bool { return br.Stats().Connections == int64(clients) })

	// Each client's share of the publishes, and a reader per client that
	// times its PUBACKs (packet ids 1…per never wrap: ids index due).
	per := (b.N + clients - 1) / clients
	if per >= 1<<16 {
		b.Fatalf("b.N %d: at most %d publishes per client", b.N, 1<<16-1)
	}
	lat := make([][]time.Duration, clients)
	var readers sync.WaitGroup
	for i, d := range devs {
		readers.Go(func() { lat[i] = d.readPubacks(b, per) })
	}
	st0 := st.Stats()
	b.ResetTimer()
	start := time.Now()
	total := per * clients
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var pk []byte
	for j := 0; j < total; {
		due := min(total, int(time.Since(start).Seconds()*float64(rate))+1)
		for ; j < due; j++ {
			d := devs[j%clients]
			id := uint16(j/clients + 1)
			at := start.Add(time.Duration(float64(j) / float64(rate) * float64(time.Second)))
			d.due[id].Store(at.UnixNano())
			pk = appendPublishQoS1(pk[:0], "ds/Temperature", id, []byte(strconv.Itoa(20+j%10)))
			if _, err := d.c.Write(pk); err != nil {
				b.Fatal(err)
			}
		}
		if j < total {
			<-tick.C
		}
	}
	readers.Wait()
	b.StopTimer()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) != total {
		b.Fatalf("%d PUBACKs for %d publishes", len(all), total)
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	st1 := st.Stats()
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(st1.Committed-st0.Committed)/float64(max(1, st1.Transactions-st0.Transactions)), "records/tx")
}

// pubackClient is a raw MQTT 3.1.1 connection that publishes at QoS 1.
type pubackClient struct {
	c   net.Conn
	due []atomic.Int64 // by packet id: when the publish was due (Unix ns)
}

// readPubacks reads n PUBACKs and returns each one's time since its
// publish was due.
func (d *pubackClient) readPubacks(b *testing.B, n int) []time.Duration {
	r := bufio.NewReader(d.c)
	out := make([]time.Duration, 0, n)
	var pk [4]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, pk[:]); err != nil {
			b.Error(err)
			return out
		}
		if pk[0] != 0x40 || pk[1] != 2 {
			b.Errorf("packet % x, want a PUBACK", pk)
			return out
		}
		id := binary.BigEndian.Uint16(pk[2:])
		out = append(out, time.Duration(time.Now().UnixNano()-d.due[id].Load()))
	}
	return out
}

// appendPublishQoS1 appends a QoS 1 PUBLISH (small enough for a
// one-byte remaining length).
func appendPublishQoS1(b []byte, topic string, id uint16, payload []byte) []byte {
	b = append(b, 0x32, byte(2+len(topic)+2+len(payload)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint16(b, id)
	return append(b, payload...)
}
