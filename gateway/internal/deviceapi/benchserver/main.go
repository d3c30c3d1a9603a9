// Command benchserver serves the device HTTP API with the hub and a real
// SQLite store and one bench device (token "bench" + 27 zeros) on
// 127.0.0.1:0, printing "addr <host:port>"; it exits when stdin closes.
// scripts/bench/http.sh loads it with wrk. -cpuprofile writes a CPU profile.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"

	"outpost/gateway/internal/deviceapi"
	"outpost/gateway/internal/hub"
	"outpost/gateway/internal/sqlite"
	"outpost/shared/datastream"
)

func main() {
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "httpbench")
	check(err)
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(ctx, sqlite.Options{Path: filepath.Join(dir, "gw.db")})
	check(err)
	h := hub.New(hub.Options{Store: st})
	check(h.Load(ctx))
	lo, hi := 0.0, 100.0
	t := datastream.Template{ID: "TMPLbench001", Name: "Bench", Datastreams: []datastream.Datastream{
		{Pin: 1, Name: "Level", Type: datastream.Integer, Min: &lo, Max: &hi},
	}}
	check(h.SaveTemplate(ctx, t))
	_, err = h.AddDeviceWithToken(ctx, t.ID, "bench", fmt.Sprintf("bench%027d", 0))
	check(err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: deviceapi.New(deviceapi.Options{Hub: h})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("addr %s\n", ln.Addr())
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	st.Flush(ctx)
	s := st.Stats()
	fmt.Printf("store: %d records committed in %d transactions, p99 %.2f ms\n", s.Committed, s.Transactions, s.P99Ms)
	check(st.Close())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}
