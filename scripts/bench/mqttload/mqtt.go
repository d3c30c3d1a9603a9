package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// client is a minimal MQTT 3.1.1 publisher: enough protocol to load a
// broker without a client library's per-message overhead.
type client struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	id uint16
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendLen(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

func dial(addr, clientID, user, pass string) (*client, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	var vh []byte
	vh = appendString(vh, "MQTT")
	flags := byte(0x02) // clean session
	if user != "" {
		flags |= 0x80 | 0x40
	}
	vh = append(vh, 4, flags, 0, 120) // keepalive 120 s
	vh = appendString(vh, clientID)
	if user != "" {
		vh = appendString(vh, user)
		vh = appendString(vh, pass)
	}
	pkt := appendLen([]byte{0x10}, len(vh))
	pkt = append(pkt, vh...)
	cl := &client{c: c, r: bufio.NewReaderSize(c, 512), w: bufio.NewWriterSize(c, 16<<10)}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write(pkt); err != nil {
		c.Close()
		return nil, err
	}
	typ, body, err := cl.read()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("connack: %w", err)
	}
	if typ != 2 || len(body) != 2 || body[1] != 0 {
		c.Close()
		return nil, fmt.Errorf("connack refused: %x %x", typ, body)
	}
	_ = c.SetDeadline(time.Time{})
	return cl, nil
}

// read returns the next packet's type and body.
func (cl *client) read() (byte, []byte, error) {
	h, err := cl.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		d, err := cl.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(cl.r, body); err != nil {
		return 0, nil, err
	}
	return h >> 4, body, nil
}

// publish buffers a PUBLISH; call flush to send.
func (cl *client) publish(topic string, payload []byte, qos byte) error {
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	var hdr [16]byte
	b := appendLen(append(hdr[:0], 0x30|qos<<1), n)
	b = appendString(b, topic)
	if qos > 0 {
		cl.id++
		if cl.id == 0 {
			cl.id = 1
		}
		b = binary.BigEndian.AppendUint16(b, cl.id)
	}
	if _, err := cl.w.Write(b); err != nil {
		return err
	}
	_, err := cl.w.Write(payload)
	return err
}

func (cl *client) flush() error { return cl.w.Flush() }

// ping sends a PINGREQ, unbuffered.
func (cl *client) ping() error {
	_, err := cl.c.Write([]byte{0xc0, 0})
	return err
}

// waitPuback reads until n PUBACKs arrived (other packets are skipped).
func (cl *client) waitPuback(n int) error {
	for n > 0 {
		typ, _, err := cl.read()
		if err != nil {
			return err
		}
		if typ == 4 {
			n--
		}
	}
	return nil
}

func (cl *client) close() {
	_, _ = cl.c.Write([]byte{0xe0, 0})
	_ = cl.c.Close()
}
