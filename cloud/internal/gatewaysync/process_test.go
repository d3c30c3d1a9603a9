package gatewaysync

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"outpost/shared/syncproto"
)

// fileTelemetry is a durable Telemetry for the cross-system test's cloud
// process (the cloud store has no telemetry tables yet): each Apply is one
// JSON line, fsynced before Apply returns, so the ack the gateway gets
// follows durability. On open the file is replayed; a torn last line (the
// process was killed mid-write) was never acknowledged and is ignored.
type fileTelemetry struct {
	mu      sync.Mutex
	f       *os.File
	applied map[string]int64 // by "gateway/epoch"
}

type fileLine struct {
	G string           `json:"g"`
	E int64            `json:"e"`
	U int64            `json:"u"`
	I []syncproto.Item `json:"i"`
}

func streamKey(gw string, epoch int64) string { return fmt.Sprintf("%s/%d", gw, epoch) }

func openFileTelemetry(path string) (*fileTelemetry, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	ft := &fileTelemetry{f: f, applied: map[string]int64{}}
	err = readLines(f, func(l fileLine) { k := streamKey(l.G, l.E); ft.applied[k] = max(ft.applied[k], l.U) })
	if err != nil {
		f.Close()
		return nil, err
	}
	// Start a fresh line after a torn one.
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return nil, err
	}
	if _, err := f.Write([]byte("\n")); err != nil {
		return nil, err
	}
	return ft, nil
}

// readLines calls fn for every complete JSON line of r.
func readLines(r io.Reader, fn func(fileLine)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, syncproto.MaxMessageSize*2)
	for sc.Scan() {
		var l fileLine
		if len(bytes.TrimSpace(sc.Bytes())) == 0 || json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		fn(l)
	}
	return sc.Err()
}

func (ft *fileTelemetry) Applied(_ context.Context, gw string, epoch int64) (int64, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.applied[streamKey(gw, epoch)], nil
}

func (ft *fileTelemetry) Apply(_ context.Context, gw string, epoch int64, items []syncproto.Item, upTo int64) error {
	b, err := json.Marshal(fileLine{G: gw, E: epoch, U: upTo, I: items})
	if err != nil {
		return err
	}
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if _, err := ft.f.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := ft.f.Sync(); err != nil {
		return err
	}
	ft.applied[streamKey(gw, epoch)] = upTo
	return nil
}

const cloudChildEnv = "OUTPOST_GATEWAYSYNC_CLOUD"

// TestCloudProcess is the cloud process of the cross-system test
// (internal/systemtest), which runs this test binary with
// OUTPOST_GATEWAYSYNC_CLOUD="listen address,telemetry file". Credential
// "cred-X" is gateway X; every gateway's tenancy is empty at version 1.
// Gateways connect at /sync; GET /command?gateway=&device=&pin=&value=
// stands in for the Platform API's datastream update. It serves until its
// stdin closes (or it is killed). The test reads the
// telemetry file back: one JSON line per applied batch, {g, u, i}.
func TestCloudProcess(t *testing.T) {
	spec := os.Getenv(cloudChildEnv)
	if spec == "" {
		t.Skip("child process of internal/systemtest")
	}
	addr, path, _ := strings.Cut(spec, ",")
	tel, err := openFileTelemetry(path)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{Credentials: anyCreds{}, Tenancy: anyTenancy{}, Telemetry: tel, IdleTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sync", srv)
	mux.HandleFunc("/command", func(w http.ResponseWriter, r *http.Request) { serveCommand(w, r, srv) })
	hs := &http.Server{Handler: mux}
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		srv.Close()
		hs.Close()
	}()
	fmt.Println("listening", ln.Addr())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
}

// serveCommand runs one command and answers {"code","value","message","micros"}.
func serveCommand(w http.ResponseWriter, r *http.Request, srv *Server) {
	q := r.URL.Query()
	pin, _ := strconv.Atoi(q.Get("pin"))
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	res, err := srv.Command(ctx, q.Get("gateway"), syncproto.Command{Kind: syncproto.CommandWrite,
		Device: q.Get("device"), Pin: pin, Value: q.Get("value"), Actor: "systemtest"})
	if err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"code": res.Code, "value": res.Value,
		"message": res.Message, "micros": time.Since(start).Microseconds()})
}

// TestFileTelemetryReplay: what was applied survives a reopen, and a torn
// last line (a kill mid-write) is neither applied nor in the way of what
// follows.
func TestFileTelemetryReplay(t *testing.T) {
	path := t.TempDir() + "/tel.jsonl"
	ft, err := openFileTelemetry(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ft.Apply(ctx, "gw-1", 7, batch(1, 3, uid1).Telemetry.Items, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := ft.f.Write([]byte(`{"g":"gw-1","e":7,"u":9,"i":[{"s":4`)); err != nil { // torn
		t.Fatal(err)
	}
	ft.f.Close()
	ft, err = openFileTelemetry(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ft.Applied(ctx, "gw-1", 7); got != 3 {
		t.Errorf("applied after reopen %d, want 3", got)
	}
	if err := ft.Apply(ctx, "gw-1", 7, batch(4, 2, uid1).Telemetry.Items, 5); err != nil {
		t.Fatal(err)
	}
	ft.f.Close()
	f, _ := os.Open(path)
	defer f.Close()
	var seqs []int64
	_ = readLines(f, func(l fileLine) {
		for _, it := range l.I {
			seqs = append(seqs, it.Seq)
		}
	})
	if fmt.Sprint(seqs) != "[1 2 3 4 5]" {
		t.Errorf("replayed seqs %v, want [1 2 3 4 5]", seqs)
	}
}
