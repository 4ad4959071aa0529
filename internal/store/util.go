package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// Times are stored as microseconds since the epoch, UTC.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromNullMicros(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMicros(n.Int64)
	return &t
}

// nextID allocates the next id of a kind, e.g. "Environments-4". Ids are
// short and readable, and the number never repeats, even after deletes.
func (q *Queries) nextID(ctx context.Context, kind string) (string, int64, error) {
	var n int64
	err := q.queryRow(ctx,
		`INSERT INTO id_sequences (kind, next_value) VALUES (?, 1)
		 ON CONFLICT (kind) DO UPDATE SET next_value = id_sequences.next_value + 1
		 RETURNING next_value`, kind).Scan(&n)
	if err != nil {
		return "", 0, fmt.Errorf("allocate %s id: %w", kind, err)
	}
	return fmt.Sprintf("%s-%d", kind, n), n, nil
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func unmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

// scanner is what *sql.Row and *sql.Rows share.
type scanner interface{ Scan(dest ...any) error }

// count runs a COUNT(*) query.
func (q *Queries) count(ctx context.Context, query string, args ...any) (int, error) {
	var n int
	err := q.queryRow(ctx, query, args...).Scan(&n)
	return n, err
}
