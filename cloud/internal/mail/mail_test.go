package mail

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMailboxWritesOneFilePerMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mailbox")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := &Mailbox{Dir: dir, From: "Outpost <noreply@outpost.local>", Now: func() time.Time { return now }}
	msgs := []Message{
		{To: "a@example.com", Subject: "Invitation", Body: "Join us\nline two"},
		{To: "b@example.com", Subject: "Réinitialiser", Body: "reset"},
	}
	for _, m := range msgs {
		if err := b.Send(context.Background(), m); err != nil {
			t.Fatalf("Send(%v): %v", m, err)
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) != len(msgs) {
		t.Fatalf("got %d .eml files (%v), want %d", len(files), err, len(msgs))
	}
	var all string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		all += string(data)
		if !strings.Contains(string(data), "\r\n\r\n") {
			t.Errorf("%s: no header/body separator", f)
		}
	}
	for _, want := range []string{"To: a@example.com\r\n", "Join us\r\nline two\r\n", "To: b@example.com\r\n", "=?utf-8?q?R=C3=A9initialiser?="} {
		if !strings.Contains(all, want) {
			t.Errorf("mailbox lacks %q", want)
		}
	}
}

func TestMailboxRefusesHeaderInjection(t *testing.T) {
	b := &Mailbox{Dir: t.TempDir(), From: "noreply@outpost.local"}
	for _, m := range []Message{
		{To: "a@example.com\r\nBcc: evil@example.com", Subject: "x"},
		{To: "a@example.com", Subject: "x\r\nBcc: evil@example.com"},
		{To: "not an address", Subject: "x"},
	} {
		if err := b.Send(context.Background(), m); !errors.Is(err, ErrInvalid) {
			t.Errorf("Send(%q) = %v, want ErrInvalid", m.To, err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(b.Dir, "*")); len(files) != 0 {
		t.Errorf("refused messages left files: %v", files)
	}
}

// fakeSMTP accepts one message on 127.0.0.1 and returns what it received.
func fakeSMTP(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		var log strings.Builder
		reply := func(s string) { c.Write([]byte(s + "\r\n")) }
		reply("220 fake ESMTP")
		inData := false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				ch <- log.String()
				return
			}
			log.WriteString(line)
			switch {
			case inData:
				if line == ".\r\n" {
					inData = false
					reply("250 queued")
				}
			case strings.HasPrefix(line, "EHLO"):
				reply("250-fake\r\n250 AUTH PLAIN")
			case strings.HasPrefix(line, "AUTH"):
				reply("235 ok")
			case strings.HasPrefix(line, "DATA"):
				inData = true
				reply("354 go")
			case strings.HasPrefix(line, "QUIT"):
				reply("221 bye")
				ch <- log.String()
				return
			default:
				reply("250 ok")
			}
		}
	}()
	return ln.Addr().String(), ch
}

func TestSMTPDelivers(t *testing.T) {
	addr, got := fakeSMTP(t)
	s := &SMTP{Addr: addr, From: "noreply@outpost.local", Username: "u", Password: "p", Timeout: 5 * time.Second}
	if err := s.Send(context.Background(), Message{To: "x@example.com", Subject: "Hello", Body: "body text"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	session := <-got
	for _, want := range []string{"MAIL FROM:<noreply@outpost.local>", "RCPT TO:<x@example.com>", "AUTH PLAIN", "Subject: Hello", "body text"} {
		if !strings.Contains(session, want) {
			t.Errorf("SMTP session lacks %q:\n%s", want, session)
		}
	}
}

// Delivered reads a mailbox back oldest first, to one address or all.
func TestDelivered(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	b := &Mailbox{Dir: dir, From: "Outpost <noreply@outpost.local>", Now: func() time.Time { now = now.Add(time.Second); return now }}
	for _, m := range []Message{{To: "a@x.test", Subject: "one", Body: "1"}, {To: "b@x.test", Subject: "two", Body: "2"},
		{To: "a@x.test", Subject: "three", Body: "3"}} {
		if err := b.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	all, err := Delivered(dir, "")
	if err != nil || len(all) != 3 || !strings.Contains(all[0], "Subject: one") || !strings.Contains(all[2], "Subject: three") {
		t.Fatalf("all: %d messages, %v", len(all), err)
	}
	toA, err := Delivered(dir, "a@x.test")
	if err != nil || len(toA) != 2 || !strings.Contains(toA[1], "Subject: three") {
		t.Fatalf("to a: %d messages, %v", len(toA), err)
	}
	if none, err := Delivered(filepath.Join(dir, "missing"), ""); err != nil || len(none) != 0 {
		t.Fatalf("a missing mailbox: %v, %v", none, err)
	}
}
