package blynkserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/internal/poll"
	"outpost/internal/procmem"
	"outpost/shared/blynk"
)

// BenchmarkSessionThroughput: 100 devices write vw as fast as they can over
// loopback TCP through the whole stack (session → hub → SQLite group
// commit). Reports messages per second accepted by the hub and committed
// to the store. Use a fixed count, e.g. -benchtime 200000x.
func BenchmarkSessionThroughput(b *testing.B) {
	const devices = 100
	e := newEnv(b)
	ctx := context.Background()
	var tokens []string
	for i := 0; i < devices; i++ {
		_, tok, err := e.hub.AddDevice(ctx, "TMPLtest0001", "bench"+strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		tokens = append(tokens, tok)
	}
	srv := New(Options{Hub: e.hub, Rate: 1e9, Burst: 1 << 30})
	addr := serve(b, srv, nil)
	conns := make([]net.Conn, devices)
	for i, tok := range tokens {
		c := dial(b, addr)
		c.login(tok)
		conns[i] = c.conn
		go io.Copy(io.Discard, c.conn) // nothing is expected, but never block the server
	}
	per := (b.N + devices - 1) / devices
	total := per * devices
	// 64 frames per socket write, as a device library flushing its buffer.
	var batch []byte
	for i := 0; i < 64; i++ {
		batch, _ = blynk.AppendMessage(batch, blynk.Message{Cmd: blynk.CmdHardware, ID: uint16(i + 2),
			Body: []byte(nul("vw", "0", fmt.Sprintf("%02d.5000000", i)))}) // all frames the same length
	}
	frameLen := len(batch) / 64
	base := srv.Stats().Writes
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			for left := per; left > 0; {
				n := min(left, 64)
				if _, err := c.Write(batch[:n*frameLen]); err != nil {
					b.Error(err)
					return
				}
				left -= n
			}
		})
	}
	wg.Wait()
	poll.Within(b, fmt.Sprintf("%d writes accepted", total), time.Minute, func() bool { return srv.Stats().Writes-base >= uint64(total) })
	accepted := time.Since(start)
	if err := e.store.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	committed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(total)/accepted.Seconds(), "accepted/s")
	b.ReportMetric(float64(total)/committed.Seconds(), "committed/s")
	st := e.store.Stats()
	b.ReportMetric(st.P99Ms, "commit-p99-ms")
}

// BenchmarkIdleSessions measures the memory of idle logged-in devices: a
// child process (this test binary) opens OUTPOST_IDLE_N connections
// (default 1000), logs each in as its own device, sends the info message
// and, once every session has parked, one PING each (a heartbeat); this
// process (hub + SQLite store + server) reports its RSS growth and Go
// heap+stack growth per session once they have parked again. Run with
// -benchtime 1x.
func BenchmarkIdleSessions(b *testing.B) {
	n := 1000
	if s := os.Getenv("OUTPOST_IDLE_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	e := newEnv(b)
	ctx := context.Background()
	tokFile := filepath.Join(b.TempDir(), "tokens")
	var sb strings.Builder
	for i := 0; i < n; i++ {
		_, tok, err := e.hub.AddDevice(ctx, "TMPLtest0001", "idle"+strconv.Itoa(i))
		if err != nil {
			b.Fatal(err)
		}
		sb.WriteString(tok + "\n")
	}
	if err := os.WriteFile(tokFile, []byte(sb.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	srv := New(Options{Hub: e.hub})
	addr := serve(b, srv, nil)
	e.flush()
	if os.Getenv("OUTPOST_IDLE_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 1
	}
	rss0, mem0 := measure()
	stk0 := stackInuse()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "OUTPOST_IDLE_CLIENTS="+addr+","+tokFile)
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	outR := bufio.NewReader(out)
	expectLine := func(want string) {
		line, err := outR.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != want {
			b.Fatalf("client process: %q, %v; want %s", line, err, want)
		}
	}
	waitParked := func(want uint64) {
		// Idle sessions park without their read buffer after srv.quiet.
		poll.Within(b, fmt.Sprintf("%d idle sessions parked", want), srv.quiet+10*time.Second, func() bool { return srv.c.parked.Load() >= want })
	}
	expectLine("READY")
	poll.Within(b, "every client logged in", time.Minute, func() bool { return srv.Stats().LoggedIn >= int64(n) })
	waitParked(uint64(n))
	// One heartbeat PING from every device, as the libraries send when
	// idle, then quiet again: the steady state of an idle fleet.
	// The runtime sizes new goroutine stacks from the average it saw at the
	// last GC; in a running gateway a GC happens at least every two minutes.
	runtime.GC()
	io.WriteString(stdin, "ping\n")
	expectLine("PONGED")
	waitParked(uint64(2 * n))
	e.flush()
	rss1, mem1 := measure()
	b.ReportMetric(float64(stackInuse()-stk0)/float64(n), "stack-B/session")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	if f := os.Getenv("OUTPOST_IDLE_HEAPPROFILE"); f != "" {
		w, _ := os.Create(f)
		pprof.WriteHeapProfile(w)
		w.Close()
	}
	b.ReportMetric(float64(rss1-rss0)/float64(n), "rss-B/session")
	b.ReportMetric(float64(mem1-mem0)/float64(n), "heap+stack-B/session")
	b.ReportMetric(float64(rss1)/(1<<20), "rss-MB-total")
}

// measure returns the process RSS and the Go heap+stacks in use, after GC
// and returning freed memory to the OS.
func measure() (rss, mem uint64) {
	runtime.GC()
	debug.FreeOSMemory() // what the background scavenger does in time
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m, _ := procmem.Self()
	return uint64(m.RSS), ms.HeapInuse + ms.StackInuse
}

func stackInuse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse
}

// idleClients is the child process of BenchmarkIdleSessions.
func idleClients(spec string) error {
	addr, tokFile, _ := strings.Cut(spec, ",")
	b, err := os.ReadFile(tokFile)
	if err != nil {
		return err
	}
	var conns []net.Conn
	for _, tok := range strings.Fields(string(b)) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		var msg []byte
		msg, _ = blynk.AppendMessage(msg, blynk.Message{Cmd: blynk.CmdHWLogin, ID: 1, Body: []byte(tok)})
		msg, _ = blynk.AppendMessage(msg, blynk.Message{Cmd: blynk.CmdInternal, ID: 2,
			Body: []byte(nul("ver", "1.3.2", "h-beat", "45", "buff-in", "1024", "dev", "ESP32", "tmpl", "TMPLtest0001"))})
		if _, err := c.Write(msg); err != nil {
			return err
		}
		var resp [10]byte
		if _, err := io.ReadFull(c, resp[:]); err != nil {
			return fmt.Errorf("login answers: %w", err)
		}
	}
	fmt.Println("READY")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() { // each line: one PING per connection
		ping, _ := blynk.AppendMessage(nil, blynk.Message{Cmd: blynk.CmdPing, ID: 3})
		for _, c := range conns {
			if _, err := c.Write(ping); err != nil {
				return err
			}
			var resp [5]byte
			if _, err := io.ReadFull(c, resp[:]); err != nil {
				return fmt.Errorf("ping answer: %w", err)
			}
		}
		fmt.Println("PONGED")
	}
	for _, c := range conns {
		c.Close()
	}
	return nil
}

func TestMain(m *testing.M) {
	if spec := os.Getenv("OUTPOST_IDLE_CLIENTS"); spec != "" {
		if err := idleClients(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
