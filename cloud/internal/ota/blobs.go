package ota

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Blobs keeps firmware images by their SHA-256. DirBlobs keeps them in a
// directory; object storage can implement the same two methods later.
type Blobs interface {
	// Put stores size bytes from r under sum, verifying the sum. Storing
	// an image already there is a no-op.
	Put(ctx context.Context, sum [32]byte, r io.Reader, size int64) error
	// Open returns the image for reading with seeks (Range requests).
	Open(ctx context.Context, sum [32]byte) (Blob, error)
}

// Blob is an open stored image.
type Blob interface {
	io.ReadSeekCloser
	Size() int64
}

// ErrNoBlob is returned by Open for an image that is not stored.
var ErrNoBlob = errors.New("ota: firmware image not stored")

// DirBlobs stores each image as a file named by its hex SHA-256 in Dir.
type DirBlobs struct{ Dir string }

func (d DirBlobs) path(sum [32]byte) string {
	return filepath.Join(d.Dir, hex.EncodeToString(sum[:])+".bin")
}

// Put writes to a temporary file, checks the digest and renames it into
// place, so a reader never sees a partial image.
func (d DirBlobs) Put(ctx context.Context, sum [32]byte, r io.Reader, size int64) error {
	if _, err := os.Stat(d.path(sum)); err == nil {
		return nil
	}
	if err := os.MkdirAll(d.Dir, 0o750); err != nil {
		return fmt.Errorf("ota: blobs: %w", err)
	}
	f, err := os.CreateTemp(d.Dir, ".upload-*")
	if err != nil {
		return fmt.Errorf("ota: blobs: %w", err)
	}
	defer os.Remove(f.Name())
	h := newHasher()
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("ota: blobs: write: %w", err)
	case n != size:
		return fmt.Errorf("ota: blobs: got %d bytes, want %d", n, size)
	case h.sha256() != sum:
		return errors.New("ota: blobs: SHA-256 mismatch")
	}
	if err := os.Rename(f.Name(), d.path(sum)); err != nil {
		return fmt.Errorf("ota: blobs: %w", err)
	}
	return nil
}

type fileBlob struct {
	*os.File
	size int64
}

func (b fileBlob) Size() int64 { return b.size }

// Open opens the image file.
func (d DirBlobs) Open(ctx context.Context, sum [32]byte) (Blob, error) {
	f, err := os.Open(d.path(sum))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoBlob
	}
	if err != nil {
		return nil, fmt.Errorf("ota: blobs: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ota: blobs: %w", err)
	}
	return fileBlob{f, st.Size()}, nil
}
