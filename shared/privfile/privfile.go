// Package privfile keeps files that hold secrets (databases with password
// and token hashes, credentials, generated passwords) readable by their
// owner only, whatever the process umask.
package privfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Restrict makes path an owner-only (0600) file, creating it empty when
// it does not exist, and tightens the SQLite companions path-wal and
// path-shm if present (SQLite gives new ones the database's mode). Call it
// before opening a database, so the file is never world-readable, not even
// for a moment.
func Restrict(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("privfile: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("privfile: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("privfile: %w", err)
		}
	}
	return nil
}

// WriteNew writes data to a new owner-only file at path. An old file is
// removed first, so neither its mode nor its owner carries over.
func WriteNew(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("privfile: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("privfile: %w", err)
	}
	_, err = f.Write(data)
	if err := errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("privfile: %w", err)
	}
	return nil
}
