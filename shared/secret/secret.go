// Package secret handles secrets outside memory: files that hold them
// (databases with password and token hashes, credentials, generated
// passwords) stay readable by their owner only, whatever the process
// umask, and logs get a recognisable prefix, never the whole secret.
package secret

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
		return fmt.Errorf("secret: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("secret: %w", err)
		}
	}
	return nil
}

// WriteFile writes data to a new owner-only file at path. An old file is
// removed first, so neither its mode nor its owner carries over.
func WriteFile(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("secret: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	_, err = f.Write(data)
	if err := errors.Join(err, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}

// Prefix returns enough of a token to recognise it in a log ("gw_AbC…"),
// never enough to use it: at most 6 characters, and at most a third of a
// short secret.
func Prefix(s string) string {
	n := min(6, len(s)/3)
	return s[:n] + "…"
}
