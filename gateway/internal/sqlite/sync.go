package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"outpost/gateway/internal/hub"
)

// Cursor returns the value of a named sync cursor; an unknown cursor is 0.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	var v int64
	err := s.db.QueryRowContext(ctx, `SELECT value FROM sync_cursors WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: cursor %s: %w", name, err)
	}
	return v, nil
}

// SetCursor stores a named sync cursor durably (the call returns after the
// commit).
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sync_cursors(name, value) VALUES (?, ?)
			ON CONFLICT(name) DO UPDATE SET value = excluded.value`, name, v)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set cursor %s: %w", name, err)
	}
	return nil
}

// OutboxLen returns how many committed entries wait in the outbox. The
// count is kept in memory (counted once at Open), since thinning leaves
// gaps in the sequence numbers and counting 5 M rows takes seconds.
func (s *Store) OutboxLen(context.Context) (int64, error) {
	return s.outboxN.Load(), nil
}

// UpdateDevice changes the name, template and token hash of the device
// with d.ID (as the cloud may). Errors as CreateDevice, and hub.ErrNoDevice
// for an unknown id.
func (s *Store) UpdateDevice(ctx context.Context, d hub.Device) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE devices SET name = ?, template_id = ?, token_hash = ? WHERE id = ?`,
			d.Name, d.TemplateID, d.TokenHash[:], d.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return hub.ErrNoDevice
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: update device %d: %w", d.ID, deviceError(err, d))
	}
	return nil
}

// deviceError maps constraint failures on devices to the store's errors.
func deviceError(err error, d hub.Device) error {
	switch code := sqliteCode(err); {
	case code == sqliteConstraintUnique && strings.Contains(err.Error(), "devices.token_hash"):
		return ErrDuplicateToken
	case code == sqliteConstraintUnique && strings.Contains(err.Error(), "devices.uid"):
		return ErrDuplicateUID
	case code == sqliteConstraintForeignKey:
		return fmt.Errorf("template %q: %w", d.TemplateID, hub.ErrNoTemplate)
	}
	return err
}

// TenancyCache returns the cached document of one tenancy kind; nil if
// none was stored.
func (s *Store) TenancyCache(ctx context.Context, kind string) ([]byte, error) {
	var body []byte
	err := s.db.QueryRowContext(ctx, `SELECT body FROM tenancy_cache WHERE kind = ?`, kind).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenancy cache %s: %w", kind, err)
	}
	return body, nil
}

// SetTenancyCache replaces the cached documents of the kinds given, all in
// one transaction, recording the tenancy version they are at.
func (s *Store) SetTenancyCache(ctx context.Context, version int64, docs map[string][]byte) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		for kind, body := range docs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tenancy_cache(kind, version, body) VALUES (?, ?, ?)
				ON CONFLICT(kind) DO UPDATE SET version = excluded.version, body = excluded.body`, kind, version, body); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: set tenancy cache: %w", err)
	}
	return nil
}
