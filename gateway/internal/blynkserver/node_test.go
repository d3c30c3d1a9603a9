package blynkserver

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"outpost/internal/nodepkg"
	"outpost/internal/poll"
	"outpost/internal/realclient"
)

// TestRealBlynkClient runs the Node.js Blynk library against the server:
// its write reaches the hub and the store, and a control write reaches it.
func TestRealBlynkClient(t *testing.T) {
	node, modules := nodepkg.Require(t, "blynk-library@"+realclient.BlynkJSVersion)
	e := newEnv(t)
	srv := New(Options{Hub: e.hub})
	addr := serve(t, srv, nil)
	host, port, _ := net.SplitHostPort(addr)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join("testdata", "blynk_client.js"), modules, host, port, testToken)
	stdin, _ := cmd.StdinPipe()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	events := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "EVT "); ok {
				events <- line
			}
		}
		close(events)
	}()
	expect := func(want string) {
		t.Helper()
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("client exited before %q", want)
				}
				if ev == want {
					return
				}
				if strings.HasPrefix(ev, "ERROR") {
					t.Fatalf("client: %s", ev)
				}
			case <-ctx.Done():
				t.Fatalf("timed out waiting for %q", want)
			}
		}
	}
	expect("CONNECTED")
	poll.Until(t, "V0 from the Node client", func() bool {
		v, ok := e.hub.Value(e.dev.ID, 0)
		return ok && v.Value == "23.5"
	})
	poll.Until(t, "the client's info message", func() bool { return len(e.hub.Info(e.dev.ID)) > 0 })
	if _, err := e.hub.ControlWrite(e.dev.ID, 2, [][]byte{[]byte("hello")}, 0, "http"); err != nil {
		t.Fatal(err)
	}
	expect("WRITE V2 hello")
	e.flush()
	h, err := e.store.History(context.Background(), e.dev.ID, 0, 0, 1<<62, 10)
	if err != nil || len(h) != 1 || h[0].Value != "23.5" {
		t.Errorf("stored V0 history %v, %v", h, err)
	}
	if info := e.hub.Info(e.dev.ID); strings.Join(info, " ") != "ver 0.5.4 buff-in 4096 dev js" {
		t.Errorf("info %q", info)
	}
}
