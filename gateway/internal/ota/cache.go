package ota

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"outpost/shared/syncproto"
)

// Source is where the cloud serves images to this gateway: the base URL
// (…/api/v1/gateway/firmware/) and the gateway's credential.
type Source struct {
	BaseURL    string
	Credential string
	Client     *http.Client // nil: http.DefaultClient
}

// Cache keeps firmware images on disk, named by SHA-256, within MaxBytes.
// An image is fetched once: into <sha>.part with Range resume after an
// interruption, verified (SHA-256 and MD5), then renamed to <sha>.bin.
type Cache struct {
	Dir      string
	MaxBytes int64

	mu       sync.Mutex
	fetching map[string]*fetch
}

type fetch struct {
	done chan struct{}
	err  error
}

// ErrTooLarge is returned when an image cannot fit the cache even after
// evicting every image not in use.
var ErrTooLarge = errors.New("ota: image does not fit the firmware cache")

func (c *Cache) path(sha string) string { return filepath.Join(c.Dir, sha+".bin") }

// Has reports whether the verified image is cached.
func (c *Cache) Has(sha string) bool {
	_, err := os.Stat(c.path(sha))
	return err == nil
}

// Open opens a cached image.
func (c *Cache) Open(sha string) (*os.File, error) { return os.Open(c.path(sha)) }

// Fetch makes sure the image fw is cached, downloading it from src if
// needed; concurrent calls for one image share one download. inUse names
// the images eviction must keep.
func (c *Cache) Fetch(ctx context.Context, src Source, fw syncproto.Firmware, inUse map[string]bool) error {
	if c.Has(fw.SHA256) {
		return nil
	}
	c.mu.Lock()
	if c.fetching == nil {
		c.fetching = map[string]*fetch{}
	}
	f, running := c.fetching[fw.SHA256]
	if !running {
		f = &fetch{done: make(chan struct{})}
		c.fetching[fw.SHA256] = f
		go func() {
			f.err = c.download(ctx, src, fw, inUse)
			c.mu.Lock()
			delete(c.fetching, fw.SHA256)
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Cache) download(ctx context.Context, src Source, fw syncproto.Firmware, inUse map[string]bool) error {
	if src.BaseURL == "" {
		return errors.New("ota: no cloud to fetch firmware from")
	}
	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return fmt.Errorf("ota: cache: %w", err)
	}
	if err := c.makeRoom(fw.Size, fw.SHA256, inUse); err != nil {
		return err
	}
	part := filepath.Join(c.Dir, fw.SHA256+".part")
	f, err := os.OpenFile(part, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("ota: cache: %w", err)
	}
	defer f.Close()
	have, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("ota: cache: %w", err)
	}
	if have > fw.Size {
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("ota: cache: %w", err)
		}
		have, _ = f.Seek(0, io.SeekStart)
	}
	if have < fw.Size {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(src.BaseURL, "/")+"/"+fw.SHA256, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+src.Credential)
		if have > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
		}
		cl := src.Client
		if cl == nil {
			cl = http.DefaultClient
		}
		resp, err := cl.Do(req)
		if err != nil {
			return fmt.Errorf("ota: fetch %s: %w", fw.SHA256[:12], err)
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusPartialContent && have > 0:
		case resp.StatusCode == http.StatusOK:
			// The server ignored the range: start over.
			if err := f.Truncate(0); err != nil {
				return fmt.Errorf("ota: cache: %w", err)
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fmt.Errorf("ota: cache: %w", err)
			}
		default:
			return fmt.Errorf("ota: fetch %s: %s", fw.SHA256[:12], resp.Status)
		}
		// What arrived is kept even when the connection breaks: the next
		// attempt resumes from there.
		_, cerr := io.Copy(f, io.LimitReader(resp.Body, fw.Size))
		if err := f.Sync(); err != nil {
			return fmt.Errorf("ota: cache: %w", err)
		}
		if cerr != nil {
			return fmt.Errorf("ota: fetch %s: %w", fw.SHA256[:12], cerr)
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("ota: cache: %w", err)
	}
	hs, hm := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(hs, hm), f)
	if err != nil {
		return fmt.Errorf("ota: cache: %w", err)
	}
	if n != fw.Size || hex.EncodeToString(hs.Sum(nil)) != fw.SHA256 || hex.EncodeToString(hm.Sum(nil)) != fw.MD5 {
		os.Remove(part) // corrupt: start over next time
		return fmt.Errorf("ota: fetch %s: %d bytes do not match the image's digests", fw.SHA256[:12], n)
	}
	if err := os.Rename(part, c.path(fw.SHA256)); err != nil {
		return fmt.Errorf("ota: cache: %w", err)
	}
	return nil
}

// makeRoom evicts the oldest images not in use until size more bytes fit.
func (c *Cache) makeRoom(size int64, sha string, inUse map[string]bool) error {
	if c.MaxBytes <= 0 {
		return nil
	}
	entries, err := os.ReadDir(c.Dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("ota: cache: %w", err)
	}
	type file struct {
		name string
		size int64
		mod  int64
		used bool
	}
	var files []file
	var total int64
	for _, e := range entries {
		name := e.Name()
		id, ok := strings.CutSuffix(name, ".bin")
		if !ok {
			id, ok = strings.CutSuffix(name, ".part")
		}
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		files = append(files, file{name, info.Size(), info.ModTime().UnixNano(), inUse[id] || id == sha})
		total += info.Size()
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod < files[j].mod })
	for _, f := range files {
		if total+size <= c.MaxBytes {
			break
		}
		if f.used {
			continue
		}
		if err := os.Remove(filepath.Join(c.Dir, f.name)); err == nil {
			total -= f.size
		}
	}
	if total+size > c.MaxBytes {
		return fmt.Errorf("%w (%d bytes, %d in use, limit %d)", ErrTooLarge, size, total, c.MaxBytes)
	}
	return nil
}
