package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"syscall"
	"time"

	"outpost/gateway/internal/broker"
	"outpost/gateway/internal/gcgoal"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/hub/hubtest"
	"outpost/gateway/internal/sqlite"
	"outpost/internal/procmem"
	"outpost/shared/datastream"
)

// run is the server: it parses the flags, serves and answers stats until stdin closes.
func run() {
	devices := flag.Int("devices", 1000, "bench devices to create")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile to this file at each stats request")
	traceFile := flag.String("trace", "", "write an execution trace of the whole run to this file")
	storeKind := flag.String("store", "sqlite", "sqlite, or count: records are only counted (measures the broker and hub without persistence)")
	history := flag.Int("history", 0, "value writes stored before serving, spread over the devices, as a gateway that has run a while has them (the history's indexes cost the commit more as they grow)")
	flag.Parse()
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil {
		r.Cur = r.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if os.Getenv("OUTPOST_GCGOAL") != "off" { // as the gateway does; off to compare
		go gcgoal.Run(ctx, gcgoal.Base(), 10*time.Second, slog.New(slog.DiscardHandler))
	}
	dir, err := os.MkdirTemp("", "benchserver")
	check(err)
	defer os.RemoveAll(dir)
	var st store
	switch *storeKind {
	case "sqlite":
		st, err = sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "gw.db")})
		check(err)
	case "count":
		st = &countStore{}
	default:
		check(fmt.Errorf("-store %q: want sqlite or count", *storeKind))
	}
	h := hub.New(hub.Options{Store: st})
	check(h.Load(ctx))
	lo, hi := -40.0, 85.0
	t := datastream.Template{ID: "TMPLbench001", Name: "Bench", Datastreams: []datastream.Datastream{
		{Pin: 0, Name: "Temperature", Type: datastream.Double, Min: &lo, Max: &hi},
	}}
	check(h.SaveTemplate(ctx, t))
	ids := make([]int64, *devices)
	for i := range *devices {
		d, err := h.AddDeviceWithToken(ctx, t.ID, "bench "+strconv.Itoa(i), fmt.Sprintf("bench%027d", i))
		check(err)
		ids[i] = d.ID
	}
	if *history > 0 && len(ids) > 0 {
		// A past hour of one reading per write, oldest first.
		from := time.Now().Add(-time.Hour).UnixMilli()
		for k := range *history {
			st.Append(hub.Record{Kind: hub.KindWrite, DeviceID: ids[k%len(ids)], Pin: 0, Value: strconv.Itoa(20 + k%10),
				TS: from + int64(k)*int64(time.Hour/time.Millisecond)/int64(*history), Source: "mqtt"})
		}
		check(st.Flush(ctx))
	}
	b, err := broker.New(broker.Options{Hub: h})
	check(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Serve(ctx, broker.Listeners{TCP: ln}) }()
	fmt.Printf("addr %s\n", ln.Addr())
	if *traceFile != "" {
		f, err := os.Create(*traceFile)
		check(err)
		check(trace.Start(f))
		defer func() { trace.Stop(); _ = f.Close() }()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if strings.TrimSpace(in.Text()) != "stats" {
			continue
		}
		check(st.Flush(ctx))
		if *memProfile != "" {
			writeHeap(*memProfile)
		}
		s := st.Stats()
		bs := b.Stats()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out, _ := json.Marshal(map[string]any{
			"rss_kb": rssKB(), "heap_inuse_kb": ms.HeapInuse >> 10, "stack_inuse_kb": ms.StackInuse >> 10,
			"goroutines": runtime.NumGoroutine(), "queue_len": s.QueueLen,
			"committed": s.Committed, "transactions": s.Transactions,
			"p50_ms": s.P50Ms, "p99_ms": s.P99Ms, "connections": bs.Connections,
			"puback_p50_ms": bs.PubackP50Ms, "puback_p99_ms": bs.PubackP99Ms,
		})
		fmt.Println(string(out))
	}
	cancel()
	<-done
	check(st.Close())
}

// writeHeap writes a heap profile after a GC, so inuse figures are current.
func writeHeap(path string) {
	runtime.GC()
	f, err := os.Create(path)
	check(err)
	check(pprof.WriteHeapProfile(f))
	check(f.Close())
}

// store is what the benchserver needs of a store: the hub's Store plus
// the SQLite store's Stats and Close.
type store interface {
	hub.Store
	Stats() sqlite.Stats
	Close() error
}

// countStore only counts records: with it the benchserver measures the
// broker and the hub alone.
type countStore struct{ hubtest.CountStore }

func (s *countStore) Close() error { return nil }

func (s *countStore) Stats() sqlite.Stats {
	return sqlite.Stats{Committed: uint64(s.Appended())}
}

func rssKB() int64 {
	m, _ := procmem.Self()
	return m.RSS >> 10
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}
