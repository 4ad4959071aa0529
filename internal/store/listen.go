package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Listen calls wake whenever work is queued anywhere (PostgreSQL
// LISTEN/NOTIFY), and once after each (re)connection, for what was queued
// while it was away. It returns when ctx ends; on SQLite, where one node
// wakes itself, it returns at once.
func (s *Store) Listen(ctx context.Context, wake func(), logger *slog.Logger) {
	if s.dialect != dialectPostgres {
		return
	}
	backoff := time.Second
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, wake, func() { backoff = time.Second })
		if ctx.Err() != nil {
			return
		}
		logger.Warn("listening for queued work failed; retrying", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, wake func(), connected func()) error {
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+QueueChannel); err != nil {
		return err
	}
	connected()
	wake()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		wake()
	}
}
