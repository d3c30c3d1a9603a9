package postgres

import (
	"context"
	"time"

	"outpost/cloud/internal/ratelimit"
)

// The shared state of the request quotas and the login throttle: every
// instance on this database counts in the same rows.

var (
	_ ratelimit.Buckets    = (*Store)(nil)
	_ ratelimit.LoginState = (*Store)(nil)
)

// TakeToken takes one token from key's bucket (capacity perMinute,
// refilled at perMinute a minute) in one upsert: a new bucket starts full
// less the token taken; an existing one is refilled for the time since
// its last use, then gives a token if it holds one. Clocks of instances
// may differ a little: a bucket's time never goes back.
func (s *Store) TakeToken(ctx context.Context, key string, perMinute int, now time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `INSERT INTO rate_buckets AS b (key, tokens, at_ms, ok) VALUES ($1, $2::float8 - 1, $3, true)
		ON CONFLICT (key) DO UPDATE SET
			tokens = LEAST($2::float8, b.tokens + GREATEST($3 - b.at_ms, 0) * $2::float8 / 60000)
				- CASE WHEN LEAST($2::float8, b.tokens + GREATEST($3 - b.at_ms, 0) * $2::float8 / 60000) >= 1 THEN 1 ELSE 0 END,
			ok = LEAST($2::float8, b.tokens + GREATEST($3 - b.at_ms, 0) * $2::float8 / 60000) >= 1,
			at_ms = GREATEST(b.at_ms, $3)
		RETURNING ok`, key, perMinute, now.UnixMilli()).Scan(&ok)
	if err != nil {
		return false, mapErr("take token", err)
	}
	return ok, nil
}

// SweepBuckets drops the buckets untouched since cutoff.
func (s *Store) SweepBuckets(ctx context.Context, cutoff time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM rate_buckets WHERE at_ms < $1`, cutoff.UnixMilli())
	return mapErr("sweep rate buckets", err)
}

// LoginFailures returns the failure counts of keys, in their order.
func (s *Store) LoginFailures(ctx context.Context, keys []string) ([]ratelimit.Failures, error) {
	rows, err := s.pool.Query(ctx, `SELECT key, n, last_ms FROM login_failures WHERE key = ANY($1)`, keys)
	if err != nil {
		return nil, mapErr("login failures", err)
	}
	defer rows.Close()
	got := map[string]ratelimit.Failures{}
	for rows.Next() {
		var k string
		var n int
		var last int64
		if err := rows.Scan(&k, &n, &last); err != nil {
			return nil, mapErr("login failures", err)
		}
		got[k] = ratelimit.Failures{N: n, Last: time.UnixMilli(last)}
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr("login failures", err)
	}
	out := make([]ratelimit.Failures, len(keys))
	for i, k := range keys {
		out[i] = got[k]
	}
	return out, nil
}

// AddLoginFailure counts one failure at now against each key, in one
// statement; a key idle for forget or longer starts again at one.
func (s *Store) AddLoginFailure(ctx context.Context, keys []string, now time.Time, forget time.Duration) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO login_failures AS f (key, n, last_ms)
		SELECT DISTINCT k, 1, $2::bigint FROM unnest($1::text[]) AS k
		ON CONFLICT (key) DO UPDATE SET
			n = CASE WHEN $2 - f.last_ms >= $3 THEN 1 ELSE f.n + 1 END,
			last_ms = GREATEST(f.last_ms, $2)`, keys, now.UnixMilli(), forget.Milliseconds())
	return mapErr("add login failure", err)
}

// ForgetLoginFailures drops key's failures.
func (s *Store) ForgetLoginFailures(ctx context.Context, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE key = $1`, key)
	return mapErr("forget login failures", err)
}

// SweepLoginFailures drops the keys whose last failure is at or before
// cutoff.
func (s *Store) SweepLoginFailures(ctx context.Context, cutoff time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM login_failures WHERE last_ms <= $1`, cutoff.UnixMilli())
	return mapErr("sweep login failures", err)
}
