package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// rawClient is a minimal HTTP/1.1 keep-alive client for one connection.
// net/http's client costs about as much CPU per request as the server does;
// on a small machine shared with the server that halves the measurable
// rate, so the load loop speaks the protocol directly (as wrk does). It
// understands exactly what the Platform API sends: a status line, headers
// and a Content-Length body.
type rawClient struct {
	addr, host, token string
	conn              net.Conn
	r                 *bufio.Reader
	w                 *bufio.Writer
	body              []byte
}

func newRawClient(base, token string) (*rawClient, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("raw client needs an http:// URL, got %q", base)
	}
	return &rawClient{addr: u.Host, host: u.Host, token: token}, nil
}

var errFraming = errors.New("unexpected HTTP framing")

// get sends one GET and returns the status; the body is read and dropped.
func (c *rawClient) get(ctx context.Context, path string) (int, error) {
	if c.conn == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return 0, err
		}
		c.conn, c.r, c.w = conn, bufio.NewReaderSize(conn, 16<<10), bufio.NewWriterSize(conn, 4<<10)
	}
	status, err := c.roundTrip(path)
	if err != nil {
		c.close()
	}
	return status, err
}

func (c *rawClient) roundTrip(path string) (int, error) {
	c.w.WriteString("GET ")
	c.w.WriteString(path)
	c.w.WriteString(" HTTP/1.1\r\nHost: ")
	c.w.WriteString(c.host)
	c.w.WriteString("\r\nAuthorization: Bearer ")
	c.w.WriteString(c.token)
	c.w.WriteString("\r\n\r\n")
	if err := c.w.Flush(); err != nil {
		return 0, err
	}
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !strings.HasPrefix(string(line[:5]), "HTTP/") {
		return 0, errFraming
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, errFraming
	}
	length, closeAfter := -1, false
	for {
		h, err := c.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(h) <= 2 {
			break
		}
		name, value, ok := strings.Cut(strings.TrimSpace(string(h)), ":")
		if !ok {
			return 0, errFraming
		}
		switch strings.ToLower(name) {
		case "content-length":
			if length, err = strconv.Atoi(strings.TrimSpace(value)); err != nil {
				return 0, errFraming
			}
		case "transfer-encoding":
			return 0, errFraming
		case "connection":
			closeAfter = strings.EqualFold(strings.TrimSpace(value), "close")
		}
	}
	if length < 0 && status != 204 && status != 304 {
		return 0, errFraming
	}
	if length > 0 {
		if cap(c.body) < length {
			c.body = make([]byte, length)
		}
		if _, err := io.ReadFull(c.r, c.body[:length]); err != nil {
			return 0, err
		}
	}
	if closeAfter {
		c.close()
	}
	return status, nil
}

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}
