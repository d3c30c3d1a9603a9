package systemtest

import (
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

var (
	rounds  = flag.Int("sync.rounds", 1, "cut/kill rounds in TestSiteSurvivesPartitionsAndCrashes (scripts/sync/system.sh raises it)")
	keepBin = flag.String("sync.bindir", "", "build the products into this directory and keep them (to symbolize a system-wide profile, e.g. perf record -g)")
)

// binDir holds the product binaries built for this test process; removed
// by TestMain unless -sync.bindir names it.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	binDir = *keepBin
	if binDir == "" {
		var err error
		if binDir, err = os.MkdirTemp("", "outpost-systemtest-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if *keepBin == "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// proxy forwards TCP to a target. closeAll cuts every connection; in
// blackhole mode it keeps them open but silently discards what flows.
type proxy struct {
	ln   net.Listener
	hole atomic.Bool

	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); p.pipe(u, c) }()
			go func() { defer wg.Done(); p.pipe(c, u) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
		wg.Wait()
	})
	return p
}

func (p *proxy) addr() string      { return p.ln.Addr().String() }
func (p *proxy) blackhole(on bool) { p.hole.Store(on) }

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	dead := false // once black-holed, a connection stays dead, like a half-open TCP path
	for {
		n, err := src.Read(buf)
		if n > 0 {
			dead = dead || p.hole.Load()
			if !dead {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}
