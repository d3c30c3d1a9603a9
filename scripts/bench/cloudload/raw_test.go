package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRawClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/ok":
			w.Header().Set("Content-Length", "11")
			w.Write([]byte(`{"id":1234}`))
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/chunked":
			w.Write([]byte("part"))
			w.(http.Flusher).Flush()
			w.Write([]byte("more"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Length", "2")
			w.Write([]byte("{}"))
		}
	}))
	defer srv.Close()
	c, err := newRawClient(srv.URL, "tok")
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	ctx := context.Background()
	for _, tc := range []struct {
		path   string
		status int
		err    error
	}{
		{"/ok", 200, nil}, {"/ok", 200, nil}, {"/empty", 204, nil}, {"/close", 200, nil}, {"/ok", 200, nil},
		{"/chunked", 0, errFraming}, {"/ok", 200, nil},
	} {
		status, err := c.get(ctx, tc.path)
		if status != tc.status || !errors.Is(err, tc.err) {
			t.Errorf("GET %s = %d, %v; want %d, %v", tc.path, status, err, tc.status, tc.err)
		}
	}
	bad, _ := newRawClient(srv.URL, "wrong")
	defer bad.close()
	if status, err := bad.get(ctx, "/ok"); status != 401 || err != nil {
		t.Errorf("wrong token: %d %v", status, err)
	}
	if _, err := newRawClient("https://127.0.0.1:1", "x"); err == nil {
		t.Error("raw client accepted https")
	}
}
