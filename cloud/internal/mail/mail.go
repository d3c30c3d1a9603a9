// Package mail delivers the cloud's outgoing messages (invitations, password
// resets, transfer notices). The default Mailbox writes each message as one
// .eml file in a directory, so a demo or a test can read what would have been
// sent; SMTP relays through a server when one is configured.
package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Message is one plain-text mail.
type Message struct {
	To      string
	Subject string
	Body    string
}

// ErrInvalid reports a message that cannot be sent as given (bad address,
// header injection attempt).
var ErrInvalid = errors.New("mail: invalid message")

// validate refuses addresses that do not parse and header values that carry
// line breaks, which would let user input add headers.
func (m Message) validate() error {
	if _, err := mail.ParseAddress(m.To); err != nil {
		return fmt.Errorf("%w: recipient %q: %v", ErrInvalid, m.To, err)
	}
	if strings.ContainsAny(m.To+m.Subject, "\r\n") {
		return fmt.Errorf("%w: line break in header", ErrInvalid)
	}
	return nil
}

// render formats m as an RFC 5322 message with CRLF line endings.
func render(from string, m Message, now time.Time, id string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", now.UTC().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@outpost>\r\n", id)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\n")
	b.WriteString("Content-Transfer-Encoding: 8bit\r\n\r\n")
	body := strings.ReplaceAll(m.Body, "\r\n", "\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
}

// Mailbox writes every message to Dir as <time>-<id>.eml.
type Mailbox struct {
	Dir  string
	From string
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex // serialises directory creation and writes
}

// Send writes m to the mailbox directory.
func (b *Mailbox) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return err
	}
	now := time.Now()
	if b.Now != nil {
		now = b.Now()
	}
	id := newID()
	data := render(b.From, m, now, id)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.MkdirAll(b.Dir, 0o750); err != nil {
		return fmt.Errorf("mail: mailbox: %w", err)
	}
	name := filepath.Join(b.Dir, now.UTC().Format("20060102T150405.000000000Z")+"-"+id+".eml")
	// Write to a temporary name then rename, so a reader never sees half a message.
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o640); err != nil {
		return fmt.Errorf("mail: mailbox: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("mail: mailbox: %w", err)
	}
	return nil
}

// Delivered returns the messages of the mailbox directory dir, oldest
// first (their names sort by time), those to the address to only unless
// to is empty. A missing directory holds none.
func Delivered(dir, to string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, fmt.Errorf("mail: mailbox: %w", err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("mail: mailbox: %w", err)
		}
		if to == "" || strings.Contains(string(b), "\r\nTo: "+to+"\r\n") {
			out = append(out, string(b))
		}
	}
	return out, nil
}

// SMTP relays messages through an SMTP server with net/smtp. STARTTLS is
// used when the server offers it; PLAIN auth when Username is set.
type SMTP struct {
	Addr     string // host:port
	From     string
	Username string
	Password string
	Timeout  time.Duration // per message; 0 means 30s
}

// Send delivers m through the configured server.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := m.validate(); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("mail: smtp address: %w", err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("mail: smtp dial: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("mail: smtp: %w", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("mail: smtp starttls: %w", err)
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return fmt.Errorf("mail: smtp auth: %w", err)
		}
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil {
		return fmt.Errorf("%w: sender %q: %v", ErrInvalid, s.From, err)
	}
	to, _ := mail.ParseAddress(m.To) // validated above
	if err := c.Mail(from.Address); err != nil {
		return fmt.Errorf("mail: smtp MAIL: %w", err)
	}
	if err := c.Rcpt(to.Address); err != nil {
		return fmt.Errorf("mail: smtp RCPT: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("mail: smtp DATA: %w", err)
	}
	if _, err := w.Write(render(s.From, m, time.Now(), newID())); err != nil {
		return fmt.Errorf("mail: smtp write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("mail: smtp DATA end: %w", err)
	}
	return c.Quit()
}
