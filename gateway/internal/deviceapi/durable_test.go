package deviceapi

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"outpost/gateway/internal/sqlite"
)

// gatedHub is the hub with a Flush (the wait for the group commit) that
// returns only when the test says so.
type gatedHub struct {
	Hub
	entered chan struct{}
	release chan error
}

func (g *gatedHub) Flush(context.Context) error {
	g.entered <- struct{}{}
	return <-g.release
}

type answer struct {
	status int
	body   string
	err    error
}

func get(url string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- answer{resp.StatusCode, string(b), err}
	}()
	return ch
}

// TestAnswerAfterCommit: every write endpoint answers only once the store
// committed the write (an HTTP 200 means durable); reads do not wait; a
// store that closes before the commit gets a 503, not a 200.
func TestAnswerAfterCommit(t *testing.T) {
	e := newEnv(t)
	g := &gatedHub{Hub: e.hub, entered: make(chan struct{}), release: make(chan error)}
	srv := httptest.NewServer(New(Options{Hub: g}))
	t.Cleanup(srv.Close)
	tk := "token=" + token
	for _, tc := range []struct {
		name, query string
		waits       bool
		flushErr    error
		status      int
		body        string
	}{
		{"update", "update?" + tk + "&v1=42", true, nil, 200, ""},
		{"update pin=", "update?" + tk + "&pin=V1&value=43", true, nil, 200, ""},
		{"batch update GET", "batch/update?" + tk + "&v1=44&v0=1.5", true, nil, 200, ""},
		{"property", "update/property?" + tk + "&pin=v1&label=Level", true, nil, 200, ""},
		{"logEvent", "logEvent?" + tk + "&code=dry", true, nil, 200, ""},
		{"meta update", "device/meta/update?" + tk + "&metaFieldId=1&value=SN-9", true, nil, 200, ""},
		{"store closed", "update?" + tk + "&v1=45", true, sqlite.ErrClosed, 503,
			errBody("The gateway is stopping: the write may not be stored.")},
		{"get", "get?" + tk + "&v1", false, nil, 200, "45"},
		{"getAll", "getAll?" + tk, false, nil, 200, `{"v0":1.5,"v1":45}`},
		{"refused write", "update?" + tk + "&v1=x", false, nil, 400, errBody("Value doesn't match the Datastream data type")},
	} {
		ch := get(srv.URL + Prefix + tc.query)
		if tc.waits {
			select {
			case <-g.entered:
			case a := <-ch:
				t.Fatalf("%s: answered %d %q without waiting for the commit", tc.name, a.status, a.body)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: neither an answer nor a wait for the commit", tc.name)
			}
			select {
			case a := <-ch:
				t.Fatalf("%s: answered %d while the commit is pending", tc.name, a.status)
			default:
			}
			g.release <- tc.flushErr
		}
		var a answer
		select {
		case a = <-ch:
		case <-g.entered:
			t.Fatalf("%s: a read or refused write waits for a commit", tc.name)
		}
		if a.err != nil || a.status != tc.status || a.body != tc.body {
			t.Errorf("%s → %d %q (%v), want %d %q", tc.name, a.status, a.body, a.err, tc.status, tc.body)
		}
	}
}

// TestAnsweredWritesAreInTheFile: with the real store, each write is in the
// SQLite file, as another connection reads it, as soon as its 200 arrives,
// without a flush by the test.
func TestAnsweredWritesAreInTheFile(t *testing.T) {
	e := newEnv(t)
	db, err := sql.Open("sqlite", "file:"+e.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for i := range 50 {
		if status, body := e.call(t, "GET", fmt.Sprintf("/external/api/update?token=%s&v1=%d", token, i), "", ""); status != 200 {
			t.Fatalf("update %d → %d %s", i, status, body)
		}
		var v string
		// The outbox entry is the durable record of a write (the latest
		// table follows it lazily).
		if err := db.QueryRow(`SELECT value FROM outbox WHERE device = ? AND pin = 1 AND kind = 1 ORDER BY seq DESC LIMIT 1`, e.dev.ID).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		if v != strconv.Itoa(i) {
			t.Fatalf("after the 200 of write %d the file holds %q", i, v)
		}
	}
}
