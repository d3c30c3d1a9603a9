package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"outpost/internal/procmem"
)

// loadTokens reads -tokens, else fetches -tokens-url.
func loadTokens(ctx context.Context, c config) ([]string, error) {
	var data []byte
	var err error
	if c.tokensFile != "" {
		data, err = os.ReadFile(c.tokensFile)
	} else {
		data, err = get(ctx, &http.Client{Timeout: 30 * time.Second}, c.tokensURL)
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	tokens, err := parseTokens(data)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if len(tokens) == 0 {
		return nil, errors.New("tokens: none found")
	}
	return tokens, nil
}

// parseTokens accepts one token per line (blank lines and # comments
// skipped), a JSON array of strings or of objects with a "token" field, or
// an object {"tokens": [...]}.
func parseTokens(data []byte) ([]string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '[' || trimmed[0] == '{') {
		var v any
		if err := json.Unmarshal(trimmed, &v); err != nil {
			return nil, err
		}
		if m, ok := v.(map[string]any); ok {
			v = m["tokens"]
		}
		list, ok := v.([]any)
		if !ok {
			return nil, errors.New("JSON is not a token list")
		}
		var out []string
		for _, e := range list {
			switch x := e.(type) {
			case string:
				out = append(out, x)
			case map[string]any:
				if s, ok := x["token"].(string); ok {
					out = append(out, s)
				}
			}
		}
		return out, nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out, sc.Err()
}

func get(ctx context.Context, client *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return body, nil
}

// fetchStats reads the gateway's stats JSON; nil, nil when no URL is set.
func fetchStats(ctx context.Context, client *http.Client, u string) (map[string]any, error) {
	if u == "" {
		return nil, nil
	}
	body, err := get(ctx, client, u)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return m, nil
}

// lookup returns the number at a dotted path ("store.committed"), or nil.
func lookup(m map[string]any, path string) *float64 {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	f, ok := v.(float64)
	if !ok {
		return nil
	}
	return &f
}

// delta returns after−before at path and that per second.
func delta(before, after map[string]any, path string, secs float64) (total, perSec *float64) {
	b, a := lookup(before, path), lookup(after, path)
	if a == nil || b == nil || secs <= 0 {
		return nil, nil
	}
	d := *a - *b
	r := d / secs
	return &d, &r
}

// rssSampler tracks a process's resident set size from /proc.
type rssSampler struct {
	r          *procmem.Reader
	mu         sync.Mutex
	maxSampled int64 // bytes
	read       bool  // a sample was read
}

func newRSSSampler(pid int) *rssSampler {
	if pid <= 0 {
		return nil
	}
	return &rssSampler{r: procmem.NewReader(pid)}
}

func (s *rssSampler) loop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sample reads the process's figures and returns its high-water mark.
func (s *rssSampler) sample() (peak int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.r.Read()
	if !ok {
		return 0
	}
	s.read = true
	s.maxSampled = max(s.maxSampled, m.RSS)
	return m.Peak
}

// result is the peak RSS in MB — the kernel's high-water mark or the largest
// sample, whichever is higher — and the largest sample.
func (s *rssSampler) result() (peakMB, maxSampledMB float64, err error) {
	peak := s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.Close()
	if !s.read {
		return 0, 0, errors.New("no RSS sample (the gateway process gone, or no /proc?)")
	}
	return float64(max(peak, s.maxSampled)) / (1 << 20), float64(s.maxSampled) / (1 << 20), nil
}

// probe sends device HTTP API updates carrying the send time; the fleet's
// devices time them on receipt.
type probe struct {
	sent, failed atomic.Uint64
	mu           sync.Mutex
	err          error
}

func (p *probe) loop(ctx context.Context, client *http.Client, base string, pin int, rate float64, tokens []string) {
	if len(tokens) == 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q := url.Values{"token": {tokens[i%len(tokens)]}, "V" + strconv.Itoa(pin): {strconv.FormatInt(time.Now().UnixNano(), 10)}}
		_, err := get(ctx, client, strings.TrimSuffix(base, "/")+"/external/api/update?"+q.Encode())
		if ctx.Err() != nil {
			return // the cut-off, not a failure
		}
		p.sent.Add(1)
		if err != nil {
			p.failed.Add(1)
			p.mu.Lock()
			if p.err == nil {
				p.err = err
			}
			p.mu.Unlock()
		}
	}
}

func (p *probe) firstErr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.err == nil {
		return ""
	}
	return p.err.Error()
}
