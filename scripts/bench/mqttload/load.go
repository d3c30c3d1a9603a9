package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"outpost/internal/proccpu"
)

// run is the tool: it parses the flags and runs the load.
func run() {
	var (
		clients = flag.Int("clients", 1000, "publishing clients")
		// A run should last seconds: one of a few hundred milliseconds is
		// mostly ramp-up, and its CPU figures mostly the 10 ms tick.
		per0       = flag.Int("msgs0", 1000, "messages per client at QoS 0")
		per1       = flag.Int("msgs1", 1000, "messages per client at QoS 1")
		window     = flag.Int("window", 10, "QoS 1 publishes in flight per client")
		mosq       = flag.String("mosquitto", "", "address of a running Mosquitto (the script starts one)")
		mosqPID    = flag.Int("mosquitto-pid", 0, "its process id, for its CPU use")
		gateway    = flag.String("outpost", "", "address of a running Outpost gateway instead of benchserver (devices must use the bench tokens)")
		server     = flag.String("server", "benchserver", "path of the benchserver binary (gateway/internal/broker/benchserver)")
		idle       = flag.Int("idle", 10000, "idle device connections for the RSS measurement (0: skip)")
		halfSecs   = flag.Int("half-seconds", 5, "duration of the half-load latency run")
		idleChild  = flag.String("idle-child", "", "internal: open -idle connections to this address and wait")
		mochiChild = flag.Bool("mochi-child", false, "internal: serve bare mochi, print its address, exit when stdin closes")
		mochiHere  = flag.Bool("mochi-in-process", false, "run bare mochi inside this process, sharing it with the load (the old way), instead of in a child process like the other brokers")
		profDir    = flag.String("profile", "", "directory for benchserver CPU and heap profiles (one pair per benchserver run)")
		withTrace  = flag.Bool("trace", false, "with -profile: also write an execution trace per benchserver run (large)")
		satRate    = flag.Float64("full-rate", 0, "offered rate of the paced full-load run that sets the half-load rate; it must be more than can be sustained (default: the QoS 0 rate persisted by the comparison runs)")
		halfRate   = flag.Float64("half-rate", 0, "offered rate of the half-load run (default: half of what the paced full-load run persisted per second)")
		idleSettle = flag.Duration("idle-settle", 60*time.Second, "how long the idle connections stay up after connecting, RSS sampled every 5 s (the gateway's RSS creeps before it levels)")
		rounds     = flag.Int("rounds", 3, "times each broker is measured, taking turns (the median is reported)")
		history    = flag.Int("history", 0, "value writes each benchserver stores before serving, as a gateway that has run a while has them (its store's indexes cost more as they grow; the default store keeps up to 5,000,000)")
		only       = flag.String("only", "", "run only these parts, comma-separated: mochi,mosquitto,outpost,nostore,half,idle (default all)")
	)
	flag.Parse()
	raiseFDLimit()
	if *idleChild != "" {
		idleClients(*idleChild, *idle)
		return
	}
	if *mochiChild {
		addr, stop := startMochi()
		fmt.Printf("addr %s\n", addr)
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
		return
	}
	want := func(part string) bool {
		return *only == "" || strings.Contains(","+*only+",", ","+part+",")
	}
	srv := benchserver{bin: *server, profDir: *profDir, trace: *withTrace, history: *history}
	fmt.Printf("mqttload: %d clients, QoS 0 %d msgs/client, QoS 1 %d msgs/client (window %d), %d rounds\n\n", *clients, *per0, *per1, *window, *rounds)

	// The brokers take turns, -rounds times, so a change in the machine's
	// other load hits all of them alike; the median of each is reported.
	var mochiR, mosqR, outR, memR result
	var mochiAddr string
	if want("mochi") {
		// In its own process, like Mosquitto and the benchserver: in this
		// one it would share the Go scheduler and GC with 1,000 clients.
		start := startMochiChild
		if *mochiHere {
			start = startMochi
		}
		addr, stop := start()
		defer stop()
		mochiAddr = addr
	}
	var o, om *outpost
	if *gateway == "" && want("outpost") {
		o = srv.start("full", *clients)
	}
	if *gateway == "" && want("nostore") {
		om = srv.start("nostore", *clients, "-store", "count")
	}
	measure := func(r *result, addr string, tokens func(int) (string, string), o *outpost, pid int) {
		var before serverStats
		if o != nil {
			before = o.stats()
		}
		rate, start := load(addr, *clients, *per0, 0, *window, tokens, 0, qos0Burst, nil)
		r.q0 = append(r.q0, rate)
		if o != nil {
			// stats flushes the store: the QoS 0 records are then committed.
			st := o.stats()
			r.persisted = append(r.persisted, float64(st.Committed-before.Committed)/time.Since(start).Seconds())
		}
		cpu0, gen0, wall0 := cpuSecs(pid), cpuSecs(os.Getpid()), time.Now()
		rate, _ = load(addr, *clients, *per1, 1, *window, tokens, 0, qos0Burst, nil)
		r.q1 = append(r.q1, rate)
		wall := time.Since(wall0).Seconds()
		r.cpu1 = append(r.cpu1, [2]float64{100 * (cpuSecs(pid) - cpu0) / wall, 100 * (cpuSecs(os.Getpid()) - gen0) / wall})
	}
	for round := range *rounds {
		steal0 := readCPUStat()
		if mochiAddr != "" {
			measure(&mochiR, mochiAddr, anonymous, nil, 0)
		}
		if want("mosquitto") && *mosq != "" {
			measure(&mosqR, *mosq, anonymous, nil, *mosqPID)
		}
		switch {
		case *gateway != "":
			measure(&outR, *gateway, benchToken, nil, 0)
		case o != nil:
			measure(&outR, o.addr, benchToken, o, o.cmd.Process.Pid)
		}
		if om != nil {
			measure(&memR, om.addr, benchToken, nil, om.cmd.Process.Pid)
		}
		if *rounds > 1 {
			fmt.Printf("  round %d: mochi %s; mosquitto %s; outpost %s; outpost without store %s; load average %s; host steal %s\n",
				round+1, pair(mochiR, round), pair(mosqR, round), pair(outR, round), pair(memR, round), loadAvg(), stealSince(steal0))
			// Two cores are shared: what the load generator takes, the
			// broker lacks (Mosquitto uses one core at most).
			fmt.Printf("    CPU during QoS 1 (broker / load generator, %% of a core): mosquitto %s; outpost %s\n",
				cpuPair(mosqR, round), cpuPair(outR, round))
		}
	}
	fmt.Printf("\n%-34s %14s %14s\n", "broker (median of the rounds)", "QoS 0 msgs/s", "QoS 1 msgs/s")
	row := func(name string, r result) {
		if len(r.q0) > 0 {
			fmt.Printf("%-34s %14.0f %14.0f\n", name, median(r.q0), median(r.q1))
		}
	}
	row("mochi-mqtt (bare, no hooks)", mochiR)
	if want("mosquitto") && *mosq == "" {
		fmt.Printf("%-34s %14s %14s\n", "mosquitto", "(not given)", "")
	}
	row("mosquitto", mosqR)
	row("outpost (auth+ACL+validation+SQLite)", outR)
	row("outpost, records only counted", memR)
	var outpost0 float64
	if len(outR.q0) > 0 {
		outpost0 = median(outR.q0)
		if len(mochiR.q0) > 0 {
			fmt.Printf("\n  outpost / bare mochi: QoS 0 %.2f×, QoS 1 %.2f×\n", outpost0/median(mochiR.q0), median(outR.q1)/median(mochiR.q1))
		}
		if len(mosqR.q0) > 0 {
			fmt.Printf("  outpost / mosquitto:  QoS 0 %.2f×, QoS 1 %.2f×\n", outpost0/median(mosqR.q0), median(outR.q1)/median(mosqR.q1))
		}
		// The broker accepts a QoS 0 publish before the group commit
		// makes its record durable (a QoS 1 PUBACK waits for it), so
		// count what reached the disk as well.
		if len(mochiR.q0) > 0 && len(outR.persisted) > 0 {
			fmt.Printf("  outpost QoS 0 persisted / bare mochi QoS 0: %.2f×\n", median(outR.persisted)/median(mochiR.q0))
		}
	}
	if len(memR.q0) > 0 && len(mochiR.q0) > 0 {
		fmt.Printf("  outpost without persistence / bare mochi: QoS 0 %.2f×, QoS 1 %.2f×\n", median(memR.q0)/median(mochiR.q0), median(memR.q1)/median(mochiR.q1))
	}
	if om != nil {
		om.stop()
	}
	if o != nil {
		st := o.stats()
		fmt.Printf("  store: %d records committed in %d transactions; QoS 0 runs persisted %.0f records/s (median; publish start → all committed)\n",
			st.Committed, st.Transactions, median(outR.persisted))
		o.stop()
	}
	if *gateway == "" {
		if want("half") {
			// Half load is half of full load for the same traffic: each
			// publish its own write, paced, like devices sending one
			// reading at a time, which costs both sides far more per
			// message than the 64-publish writes of the comparison above
			// (one wake-up and two reads per message instead of many
			// messages per read). Full load is what a paced run offered
			// more than that persists; and the target counts persisted
			// publishes, which lag what the broker accepts.
			rate, why := *halfRate, "set by -half-rate"
			if rate == 0 {
				offered := *satRate
				if offered == 0 && len(outR.persisted) > 0 {
					offered = median(outR.persisted)
				}
				if offered == 0 {
					fatal(fmt.Errorf("the half-load run needs -half-rate or -full-rate when outpost is not measured first"))
				}
				capacity := pacedCapacity(srv, "full-paced", 0, offered, *clients, *halfSecs, *window)
				rate = capacity / 2
				why = fmt.Sprintf("half of full load: offered %.0f msgs/s paced, one publish per write, %.0f were persisted per second",
					offered, capacity)
			}
			fmt.Printf("  half-load rate %.0f msgs/s: %s\n", rate, why)
			// p99 publish→committed at that rate, on a fresh store.
			o := srv.start("half", *clients)
			n := int(rate * float64(*halfSecs) / float64(*clients))
			before := o.stats()
			cpu0, gen0, wall0, steal0 := cpuSecs(o.cmd.Process.Pid), cpuSecs(os.Getpid()), time.Now(), readCPUStat()
			got, start := load(o.addr, *clients, n, 0, *window, benchToken, rate, 1, nil)
			st := o.stats()
			secs := time.Since(start).Seconds()
			wall := time.Since(wall0).Seconds()
			cpu1, gen1 := cpuSecs(o.cmd.Process.Pid), cpuSecs(os.Getpid())
			fmt.Printf("  half load: offered %.0f msgs/s, achieved %.0f msgs/s; publish→committed p50 %.2f ms, p99 %.2f ms (%d records in %d transactions, %.0f records/transaction)\n",
				rate, got, st.P50Ms, st.P99Ms, st.Committed, st.Transactions, float64(st.Committed)/max(1, float64(st.Transactions)))
			fmt.Printf("  store commit rate over the run: %.0f records/s in %.1f transactions/s\n",
				float64(st.Committed-before.Committed)/secs, float64(st.Transactions-before.Transactions)/secs)
			// Two cores are shared: what the generator takes, the gateway lacks.
			fmt.Printf("  CPU over the run (connect, publish, flush; %.1f s): gateway %.0f%% of a core, load generator %.0f%%; machine load average %s; host steal %s\n",
				wall, 100*(cpu1-cpu0)/wall, 100*(gen1-gen0)/wall, loadAvg(), stealSince(steal0))
			o.stop()

			// QoS 1 at the same rate: each PUBACK, timed by the client from
			// its publish, comes after the commit of its write. (Half of a
			// paced QoS 1 full load is no better a rate: when the paced
			// loader falls behind it sends several publishes per write,
			// which flatters the capacity.) -half-rate sets it for a sweep.
			halfQoS1(srv, "", 0, "half-qos1", "at the half-load rate", rate, *clients, *halfSecs, *window, 1)
			if *mosq != "" {
				halfQoS1(srv, *mosq, *mosqPID, "", "mosquitto, the same", rate, *clients, *halfSecs, *window, 1)
			}

			// The other reading of half load: the QoS 1 traffic of
			// the comparison above (each client writes its window of
			// publishes at once), at half of Outpost's median QoS 1 rate.
			if len(outR.q1) > 0 {
				rate := median(outR.q1) / 2
				label := fmt.Sprintf("as the comparison runs, %d publishes per write, at half of its QoS 1 median", *window)
				halfQoS1(srv, "", 0, "half-qos1-window", label, rate, *clients, *halfSecs, *window, *window)
				if *mosq != "" {
					halfQoS1(srv, *mosq, *mosqPID, "", "mosquitto, the same", rate, *clients, *halfSecs, *window, *window)
				}
			}
		}
	}
	if *idle > 0 && *gateway == "" && want("idle") {
		idleRSS(srv, *idle, *idleSettle)
	}
}

// pacedCapacity offers rate msgs/s at qos, one publish per write, on a
// fresh benchserver for secs and returns the records committed per second
// (at QoS 1 each PUBACK follows its commit).
func pacedCapacity(srv benchserver, phase string, qos byte, rate float64, clients, secs, window int) float64 {
	o := srv.start(phase, clients)
	defer o.stop()
	before := o.stats()
	n := int(rate * float64(secs) / float64(clients))
	_, start := load(o.addr, clients, n, qos, window, benchToken, rate, 1, &latencies{})
	st := o.stats()
	return float64(st.Committed-before.Committed) / time.Since(start).Seconds()
}

// halfQoS1 runs QoS 1 publishes paced at rate, burst to a write, on a
// fresh benchserver (or the Mosquitto at mosq, process mosqPID) and prints
// publish→PUBACK as the client sees it and, for Outpost, inside the gateway.
func halfQoS1(srv benchserver, mosq string, mosqPID int, phase, label string, rate float64, clients, secs, window, burst int) {
	n := int(rate * float64(secs) / float64(clients))
	n -= n % burst
	addr, tokens, pid := mosq, anonymous, mosqPID
	var o *outpost
	if mosq == "" {
		o = srv.start(phase, clients)
		defer o.stop()
		addr, tokens, pid = o.addr, benchToken, o.cmd.Process.Pid
	}
	var before serverStats
	if o != nil {
		before = o.stats()
	}
	lat := &latencies{}
	load0 := loadAvg()
	cpu0, gen0, wall0, steal0 := cpuSecs(pid), cpuSecs(os.Getpid()), time.Now(), readCPUStat()
	got, _ := load(addr, clients, n, 1, window, tokens, rate, burst, lat)
	wall := time.Since(wall0).Seconds()
	cpu1, gen1 := cpuSecs(pid), cpuSecs(os.Getpid())
	fmt.Printf("  half load QoS 1 (%s): offered %.0f msgs/s, achieved %.0f msgs/s; publish→PUBACK p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d PUBACKs)",
		label, rate, got, lat.quantile(0.50), lat.quantile(0.99), lat.quantile(1), lat.n())
	var st serverStats
	if o != nil {
		st = o.stats()
		fmt.Printf("; %.0f records/transaction", float64(st.Committed-before.Committed)/max(1, float64(st.Transactions-before.Transactions)))
	}
	fmt.Println()
	fmt.Printf("    timed from when each publish was due instead of written: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		lat.quantileDue(0.50), lat.quantileDue(0.99), lat.quantileDue(1))
	if o == nil {
		broker := ""
		if pid > 0 {
			broker = fmt.Sprintf("Mosquitto %.0f%% of a core, ", 100*(cpu1-cpu0)/wall)
		}
		fmt.Printf("    CPU over the run (%.1f s): %sload generator %.0f%% of a core; machine load average %s before, %s after; host steal %s\n",
			wall, broker, 100*(gen1-gen0)/wall, load0, loadAvg(), stealSince(steal0))
		return
	}
	fmt.Printf("    inside the gateway (publish handled → PUBACK written, no network or client): p50 %.2f ms, p99 %.2f ms\n",
		st.PubackP50Ms, st.PubackP99Ms)
	fmt.Printf("    CPU over the run (%.1f s): gateway %.0f%% of a core, load generator %.0f%%; machine load average %s before, %s after; host steal %s\n",
		wall, 100*(cpu1-cpu0)/wall, 100*(gen1-gen0)/wall, load0, loadAvg(), stealSince(steal0))
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// result is one broker's rates, one per round: QoS 0 and QoS 1 msgs/s and,
// for Outpost's benchserver, QoS 0 records persisted per second.
type result struct {
	q0, q1, persisted []float64
	cpu1              [][2]float64 // broker and load generator CPU % during the QoS 1 run
}

// cpuPair formats one round's CPU use during QoS 1.
func cpuPair(r result, i int) string {
	if i >= len(r.cpu1) {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0f", r.cpu1[i][0], r.cpu1[i][1])
}

// pair formats one round's QoS 0 / QoS 1 rates.
func pair(r result, i int) string {
	if i >= len(r.q0) {
		return "-"
	}
	return fmt.Sprintf("%.0f/%.0f", r.q0[i], r.q1[i])
}

func benchToken(i int) (string, string) { return "device", fmt.Sprintf("bench%027d", i) }

// anonymous is the credentials of the brokers without authentication.
func anonymous(int) (string, string) { return "", "" }

// qos0Burst is how many QoS 0 publishes an unpaced client writes at once
// in the broker comparison (the same for every broker).
const qos0Burst = 64

// load runs clients publishing per messages each and returns messages/s
// and when the publishing began (after every client connected). rate > 0
// paces the whole run to about rate messages/s, one publish per write (at
// QoS 1, lat gets each publish→PUBACK time); otherwise QoS 0 clients write
// burst publishes at a time.
func load(addr string, clients, per int, qos byte, window int, tokens func(int) (string, string), rate float64, burst int, lat *latencies) (float64, time.Time) {
	conns := make([]*client, clients)
	var wg sync.WaitGroup
	var failed atomic.Int64
	sem := make(chan struct{}, 64) // bounded connect concurrency
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u, p := tokens(i)
			c, err := dial(addr, "load-"+strconv.Itoa(i), u, p)
			if err != nil {
				if failed.Add(1) == 1 {
					fmt.Fprintln(os.Stderr, "connect:", err)
				}
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		fmt.Fprintf(os.Stderr, "%d clients failed to connect\n", failed.Load())
	}
	var sent atomic.Int64
	start := time.Now()
	if rate > 0 {
		paced(conns, per, qos, rate, burst, start, &sent, lat)
		return float64(sent.Load()) / time.Since(start).Seconds(), start
	}
	for i, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.close()
			payload := []byte(strconv.Itoa(20 + i%10))
			for n := 0; n < per; {
				batch := window
				if qos == 0 {
					batch = burst
				}
				batch = min(batch, per-n)
				for range batch {
					if err := c.publish("ds/Temperature", payload, qos); err != nil {
						return
					}
				}
				if err := c.flush(); err != nil {
					return
				}
				if qos == 1 {
					if err := c.waitPuback(batch); err != nil {
						return
					}
				}
				n += batch
				sent.Add(int64(batch))
			}
			if qos == 0 {
				// One QoS 1 publish closes the run: its PUBACK means the
				// broker processed everything sent before it on this
				// connection.
				if c.publish("ds/Temperature", payload, 1) != nil || c.flush() != nil || c.waitPuback(1) != nil {
					return
				}
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(sent.Load()) / time.Since(start).Seconds(), start
}

// pacerConns is how many connections one pacer goroutine serves.
const pacerConns = 100

// paced sends per QoS 0 publishes on each connection, about rate msgs/s in
// all, from start. A goroutine per connection sleeping between publishes
// costs a timer wake-up per message, CPU taken from the broker on a 2-core
// machine; a pacer per pacerConns connections on a 1 ms ticker wakes a
// thousand times a second whatever the rate. The write per message stays,
// and is most of the generator's CPU (system time).
func paced(conns []*client, per int, qos byte, rate float64, burst int, start time.Time, sent *atomic.Int64, lat *latencies) {
	var live []pacedConn
	for i, c := range conns {
		if c != nil {
			live = append(live, pacedConn{c: c, payload: []byte(strconv.Itoa(20 + i%10))})
		}
	}
	pacers := (len(live) + pacerConns - 1) / pacerConns
	var wg sync.WaitGroup
	for p := range pacers {
		own := live[p*len(live)/pacers : (p+1)*len(live)/pacers]
		share := rate * float64(len(own)) / float64(len(live))
		// Pacer p's message j is due at (p + j·pacers)/rate, roughly:
		// the pacers' streams interleave into one even stream.
		begin := start.Add(time.Duration(float64(p) / rate * float64(time.Second)))
		wg.Go(func() { pace(own, per, qos, share, burst, begin, sent, lat) })
	}
	wg.Wait()
}

// pacedConn is one connection of a pacer.
type pacedConn struct {
	c       *client
	payload []byte
	failed  bool
	sentAt  []atomic.Int64 // QoS 1: when each packet id in flight was sent, by id % len
	dueAt   []atomic.Int64 // QoS 1: when it was due (the pacer may write it later)
}

// pace sends per publishes on each of conns at rate msgs/s in all, burst
// publishes to a write (per is a multiple of burst): its write j (to
// conns[j%len(conns)], so each connection's publishes are spread evenly
// over the run) is due at begin + j·burst/rate. With burst 1 each publish
// is its own TCP write, like a device sending one reading at a time. A
// closing QoS 1 publish per connection follows: its PUBACK means the
// broker processed everything sent before it.
func pace(conns []pacedConn, per int, qos byte, rate float64, burst int, begin time.Time, sent *atomic.Int64, lat *latencies) {
	defer func() {
		for _, pc := range conns {
			pc.c.close()
		}
	}()
	var readers sync.WaitGroup
	if qos == 1 {
		// A reader per connection times each PUBACK against its publish.
		for i := range conns {
			pc := &conns[i]
			pc.sentAt = make([]atomic.Int64, 1024)
			pc.dueAt = make([]atomic.Int64, 1024)
			readers.Go(func() { readPubacks(pc, per, lat) })
		}
	}
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	burst = max(burst, 1)
	total := len(conns) * per / burst // writes
	for j := 0; j < total; {
		var due int
		if el := time.Since(begin); el >= 0 {
			due = min(total, int(el.Seconds()*rate/float64(burst))+1)
		}
		n := 0
		for ; j < due; j++ {
			pc := &conns[j%len(conns)]
			if pc.failed {
				continue
			}
			dueAt := begin.Add(time.Duration(float64(j*burst) / rate * float64(time.Second))).UnixNano()
			for range burst {
				if pc.c.publish("ds/Temperature", pc.payload, qos) != nil {
					pc.failed = true
					break
				}
				if qos == 1 {
					slot := int(pc.c.id) % len(pc.sentAt)
					pc.dueAt[slot].Store(dueAt)
					pc.sentAt[slot].Store(time.Now().UnixNano())
				}
			}
			if pc.failed || pc.c.flush() != nil {
				pc.failed = true
				continue
			}
			n += burst
		}
		sent.Add(int64(n))
		if j < total {
			<-tick.C // a tick missed while writing is dropped; due catches up
		}
	}
	if qos == 1 {
		readers.Wait() // every publish was acknowledged (or its connection failed)
		return
	}
	// All closing publishes first, then their PUBACKs: the broker
	// handles them in parallel.
	for i := range conns {
		pc := &conns[i]
		if !pc.failed && (pc.c.publish("ds/Temperature", pc.payload, 1) != nil || pc.c.flush() != nil) {
			pc.failed = true
		}
	}
	for _, pc := range conns {
		if !pc.failed && pc.c.waitPuback(1) == nil {
			sent.Add(1)
		}
	}
}

// readPubacks reads want PUBACKs from pc (or until its connection fails)
// and adds each one's time since its publish to lat.
func readPubacks(pc *pacedConn, want int, lat *latencies) {
	var mine, fromDue []time.Duration
	defer func() { lat.add(mine, fromDue) }()
	_ = pc.c.c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	for len(mine) < want {
		typ, body, err := pc.c.read()
		if err != nil {
			return
		}
		if typ != 4 || len(body) < 2 {
			continue
		}
		id := int(body[0])<<8 | int(body[1])
		if at := pc.sentAt[id%len(pc.sentAt)].Load(); at > 0 {
			now := time.Now().UnixNano()
			mine = append(mine, time.Duration(now-at))
			fromDue = append(fromDue, time.Duration(now-pc.dueAt[id%len(pc.dueAt)].Load()))
		}
	}
}

// latencies collects durations from many goroutines: each PUBACK's time
// since its publish was written (d) and since it was due (fromDue). The
// pacer writes a publish up to a tick (1 ms) after it is due, or later
// when it falls behind; fromDue counts that wait too, so a stall that
// delays the publishes behind it is not left out of the figure
// (coordinated omission).
type latencies struct {
	mu      sync.Mutex
	d       []time.Duration
	fromDue []time.Duration
}

func (l *latencies) add(d, fromDue []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.fromDue = append(l.fromDue, fromDue...)
	l.mu.Unlock()
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// quantile returns the q-quantile in milliseconds (q = 1: the maximum)
// of the times since each publish was written.
func (l *latencies) quantile(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quantileMs(l.d, q)
}

// quantileDue is quantile of the times since each publish was due.
func (l *latencies) quantileDue(q float64) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quantileMs(l.fromDue, q)
}

func quantileMs(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := min(len(d)-1, int(q*float64(len(d))))
	return float64(d[i]) / float64(time.Millisecond)
}

// startMochiChild serves bare mochi from a child process (-mochi-child).
func startMochiChild() (string, func()) {
	self, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	cmd := exec.Command(self, "-mochi-child")
	stdin, stdout := startChild(cmd)
	line, err := stdout.ReadString('\n')
	if err != nil {
		fatal(fmt.Errorf("mochi child: %w", err))
	}
	return strings.TrimPrefix(strings.TrimSpace(line), "addr "), func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	}
}

// startChild starts a child process that talks over its stdin and stdout
// (its stderr goes to ours).
func startChild(cmd *exec.Cmd) (io.WriteCloser, *bufio.Reader) {
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	return stdin, bufio.NewReader(stdout)
}

func startMochi() (string, func()) {
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler), InlineClient: false})
	_ = s.AddHook(new(allowAll), nil) // mochi refuses every client without an auth hook
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal(err)
	}
	if err := s.AddListener(listeners.NewNet("t", ln)); err != nil {
		fatal(err)
	}
	if err := s.Serve(); err != nil {
		fatal(err)
	}
	return ln.Addr().String(), func() { _ = s.Close() }
}

// outpost is a benchserver process (gateway/internal/broker/benchserver):
// broker + hub + SQLite store with the bench devices.
type outpost struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// benchserver starts benchserver processes, with profiles when profDir is set.
type benchserver struct {
	bin, profDir string
	trace        bool
	history      int // value writes each benchserver stores before serving
}

func (b benchserver) start(phase string, n int, extra ...string) *outpost {
	args := append([]string{"-devices", strconv.Itoa(n)}, extra...)
	if b.history > 0 { // only then: older benchservers, to compare with, lack the flag
		args = append(args, "-history", strconv.Itoa(b.history))
	}
	if b.profDir != "" {
		args = append(args, "-cpuprofile", filepath.Join(b.profDir, phase+".cpu"), "-memprofile", filepath.Join(b.profDir, phase+".heap"))
		if b.trace {
			args = append(args, "-trace", filepath.Join(b.profDir, phase+".trace"))
		}
	}
	cmd := exec.Command(b.bin, args...)
	stdin, stdout := startChild(cmd)
	o := &outpost{cmd: cmd, stdin: stdin, out: stdout}
	line, err := o.out.ReadString('\n')
	if err != nil {
		fatal(fmt.Errorf("benchserver: %w", err))
	}
	o.addr = strings.TrimPrefix(strings.TrimSpace(line), "addr ")
	return o
}

type serverStats struct {
	RSSKB        int64   `json:"rss_kb"`
	HeapInuseKB  int64   `json:"heap_inuse_kb"`
	StackInuseKB int64   `json:"stack_inuse_kb"`
	Goroutines   int64   `json:"goroutines"`
	Committed    uint64  `json:"committed"`
	Transactions uint64  `json:"transactions"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	Connections  int64   `json:"connections"`
	// QoS 1 publish handled → PUBACK written, inside the gateway.
	PubackP50Ms float64 `json:"puback_p50_ms"`
	PubackP99Ms float64 `json:"puback_p99_ms"`
}

func (o *outpost) stats() serverStats {
	var s serverStats
	if _, err := io.WriteString(o.stdin, "stats\n"); err != nil {
		fatal(err)
	}
	line, err := o.out.ReadString('\n')
	if err != nil {
		fatal(err)
	}
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		fatal(fmt.Errorf("benchserver stats %q: %w", line, err))
	}
	return s
}

func (o *outpost) stop() {
	_ = o.stdin.Close()
	_ = o.cmd.Wait()
}

// idleRSS lets a child process open n idle device connections to a fresh
// benchserver and reports the server's RSS once they are up and, sampled
// every 5 s, over settle: it creeps for a minute or so (mochi's housekeeping
// copies its client map every second, and the GC goal counts goroutine
// stacks), so the figure right after connecting understates it. With
// -profile each sample also writes a heap profile, which forces a GC and
// hides part of the creep.
func idleRSS(srv benchserver, n int, settle time.Duration) {
	o := srv.start("idle", n)
	defer o.stop()
	before := o.stats()
	self, _ := os.Executable()
	cmd := exec.Command(self, "-idle-child", o.addr, "-idle", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fatal(err)
	}
	if err := cmd.Start(); err != nil {
		fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n') // "ready N" once connected
	connected := o.stats()
	last, peak := connected, connected.RSSKB
	var trail []string
	for deadline := time.Now().Add(settle); time.Now().Before(deadline); {
		time.Sleep(min(5*time.Second, time.Until(deadline)))
		last = o.stats()
		peak = max(peak, last.RSSKB)
		trail = append(trail, fmt.Sprintf("%.0f", float64(last.RSSKB)/1024))
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	mb := func(kb int64) float64 { return float64(kb) / 1024 }
	perConn := func(kb int64) float64 { return float64(kb-before.RSSKB) / float64(n) }
	fmt.Printf("\nidle: %s; broker reports %d connections once connected, %d after %s\n",
		strings.TrimSpace(line), connected.Connections, last.Connections, settle)
	fmt.Printf("  gateway RSS: %.1f MB before; %.1f MB once connected (+%.1f KB/connection); after %s %.1f MB (+%.1f KB/connection), max %.1f MB (+%.1f KB/connection)\n",
		mb(before.RSSKB), mb(connected.RSSKB), perConn(connected.RSSKB), settle, mb(last.RSSKB), perConn(last.RSSKB), mb(peak), perConn(peak))
	if len(trail) > 0 {
		fmt.Printf("  RSS every 5 s after connecting: %s MB\n", strings.Join(trail, " "))
	}
	for _, s := range []struct {
		when string
		st   serverStats
	}{{"once connected", connected}, {"after " + settle.String(), last}} {
		fmt.Printf("  per connection %s: heap +%.1f KB, goroutine stacks +%.1f KB, goroutines +%.2f\n", s.when,
			float64(s.st.HeapInuseKB-before.HeapInuseKB)/float64(n), float64(s.st.StackInuseKB-before.StackInuseKB)/float64(n),
			float64(s.st.Goroutines-before.Goroutines)/float64(n))
	}
}

func idleClients(addr string, n int) {
	var wg sync.WaitGroup
	var ok atomic.Int64
	sem := make(chan struct{}, 64)
	conns := make([]*client, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u, p := benchToken(i)
			c, err := dial(addr, "", u, p)
			if err == nil {
				conns[i] = c
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("ready %d\n", ok.Load())
	// The clients' keepalive is 120 s and the broker drops a client silent
	// for 1.5 times that, so, as a real device would, each sends a PINGREQ
	// every 60 s, spread evenly: any -idle-settle works, at n/60 pings/s.
	// The PINGRESPs are left unread, two bytes a minute per socket.
	const every = 60 * time.Second
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for j := 0; ; {
		<-tick.C
		for due := int(time.Since(start) * time.Duration(n) / every); j < due; j++ {
			if c := conns[j%n]; c != nil {
				_ = c.ping()
			}
		}
	}
}

// loadAvg is the machine's 1-minute load average (/proc/loadavg), "?" if
// unknown: the figures of a shared machine mean little without it.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// cpuStat is the machine's CPU time counters (/proc/stat, in USER_HZ
// ticks): all of them, and steal, the time a virtual machine's host ran
// something else while this guest had work. A stolen vCPU stalls whatever
// runs on it for milliseconds at a time, so a tail latency measured on a
// VM means little without the steal beside it.
type cpuStat struct{ steal, total float64 }

func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return cpuStat{}
	}
	var st cpuStat
	for i, v := range f[1:] {
		if i >= 8 { // guest times are already counted in user and nice
			break
		}
		x, _ := strconv.ParseFloat(v, 64)
		st.total += x
		if i == 7 {
			st.steal = x
		}
	}
	return st
}

// stealSince is the share of the CPU time since a that the host stole,
// "?" if unknown.
func stealSince(a cpuStat) string {
	b := readCPUStat()
	if b.total <= a.total {
		return "?"
	}
	return fmt.Sprintf("%.0f%%", 100*(b.steal-a.steal)/(b.total-a.total))
}

// cpuSecs is the user+system CPU time process pid has used, 0 if unknown.
func cpuSecs(pid int) float64 {
	p, _ := proccpu.Of(pid)
	return p.CPU().Seconds()
}

func raiseFDLimit() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

// allowAll is the least a bare mochi needs to accept clients.
type allowAll struct{ mqtt.HookBase }

func (allowAll) ID() string { return "allow-all" }

func (allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}

func (allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

func (allowAll) OnACLCheck(*mqtt.Client, string, bool) bool { return true }

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mqttload:", err)
	os.Exit(1)
}
