// Package store keeps Pulpo's state in SQLite (embedded default) or
// PostgreSQL (several server nodes). One database/sql implementation serves
// both; dialect.go holds the few differences.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config says which database to open.
type Config struct {
	// DatabaseURL selects PostgreSQL (postgres://… or postgresql://…).
	// When empty, SQLite is used in DataDir.
	DatabaseURL string
	// DataDir holds pulpo.db when SQLite is used.
	DataDir string
	// Clock gives the time stamped on records; time.Now when nil.
	Clock func() time.Time
	// Logger receives migration progress; discarded when nil.
	Logger *slog.Logger
}

// Store is an open database with its schema up to date.
type Store struct {
	dialect dialect
	// writer takes every transaction; for SQLite it is a single connection,
	// because SQLite allows one writer and queuing in Go beats lock retries.
	writer *sql.DB
	// reader serves reads outside transactions; for SQLite a pool of
	// connections reading the WAL concurrently, for PostgreSQL the same pool.
	reader *sql.DB
	clock  func() time.Time
	// sealer seals sensitive values before they are stored; set once the
	// master key is known (it is checked against the database itself).
	sealer Sealer
	// url is PostgreSQL's, for the connection that listens for queued work.
	url string
}

// Sealer encrypts and decrypts secrets at rest.
type Sealer interface {
	Seal(plaintext []byte) string
	Open(sealed string) ([]byte, error)
}

// SetSealer gives the store the master key's box; until then sensitive
// values cannot be saved.
func (s *Store) SetSealer(b Sealer) { s.sealer = b }

// Open connects, applies pending migrations and returns the store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{clock: cfg.Clock}
	if s.clock == nil {
		s.clock = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var err error
	if cfg.DatabaseURL != "" {
		err = s.openPostgres(cfg.DatabaseURL)
	} else {
		err = s.openSQLite(cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, logger); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openPostgres(url string) error {
	s.url = url
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return fmt.Errorf("database URL must start with postgres:// or postgresql://")
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.dialect, s.writer, s.reader = dialectPostgres, db, db
	return nil
}

func (s *Store) openSQLite(dir string) error {
	if dir == "" {
		return fmt.Errorf("open sqlite: no data directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "pulpo.db")
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	writer, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetConnMaxIdleTime(0)
	reader, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&mode=ro")
	if err != nil {
		writer.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	reader.SetMaxOpenConns(8)
	s.dialect, s.writer, s.reader = dialectSQLite, writer, reader
	// The writer must create the file (and switch it to WAL) before a
	// read-only connection can open it.
	if err := writer.Ping(); err != nil {
		s.Close()
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return nil
}

func (s *Store) migrate(ctx context.Context, logger *slog.Logger) error {
	opts := []goose.ProviderOption{goose.WithSlog(logger), goose.WithTableName("schema_migrations")}
	gd := goose.DialectSQLite3
	if s.dialect == dialectPostgres {
		gd = goose.DialectPostgres
		// Nodes starting together must not migrate at the same time.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(gd, s.writer, mustSub(migrations, "migrations"), opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		logger.Info("applied migration", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Close releases the database connections.
func (s *Store) Close() error {
	err := s.writer.Close()
	if s.reader != s.writer {
		err = errors.Join(err, s.reader.Close())
	}
	return err
}

// Dialect names the database in use: "sqlite" or "postgres".
func (s *Store) Dialect() string { return string(s.dialect) }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.reader.PingContext(ctx) }

// Now is the store's clock, for callers that stamp records themselves.
func (s *Store) Now() time.Time { return s.clock() }

// Read returns queries that run outside any transaction, for reads.
func (s *Store) Read() *Queries {
	return &Queries{db: s.reader, d: s.dialect, now: s.clock, sealer: s.sealer}
}

// Tx runs fn in a transaction and commits when it returns nil. Every write
// goes through here.
func (s *Store) Tx(ctx context.Context, fn func(q *Queries) error) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(&Queries{db: tx, d: s.dialect, now: s.clock, sealer: s.sealer}); err != nil {
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("roll back: %w", rbErr))
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", translate(s.dialect, err))
	}
	return nil
}

// dbtx is what both *sql.DB and *sql.Tx offer.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Queries runs the store's statements, inside a transaction or not.
type Queries struct {
	db     dbtx
	sealer Sealer
	d      dialect
	now    func() time.Time
}

// Now is the store's clock: the one every stored time comes from.
func (q *Queries) Now() time.Time { return q.now() }

func (q *Queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := q.db.ExecContext(ctx, q.d.rebind(query), args...)
	return res, translate(q.d, err)
}

func (q *Queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	rows, err := q.db.QueryContext(ctx, q.d.rebind(query), args...)
	return rows, translate(q.d, err)
}

func (q *Queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.db.QueryRowContext(ctx, q.d.rebind(query), args...)
}

// ListOptions pages and filters a list.
type ListOptions struct {
	Skip int
	Take int
	// Name matches names exactly, ignoring case.
	Name string
	// PartialName matches names containing it, ignoring case.
	PartialName string
}

// nameFilter adds the name conditions of opts to a WHERE clause.
func (o ListOptions) nameFilter(where []string, args []any, column string) ([]string, []any) {
	if o.Name != "" {
		where = append(where, column+" = ?")
		args = append(args, strings.ToLower(o.Name))
	}
	if o.PartialName != "" {
		where = append(where, column+" LIKE ? ESCAPE '\\'")
		args = append(args, "%"+escapeLike(strings.ToLower(o.PartialName))+"%")
	}
	return where, args
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// page returns the LIMIT/OFFSET clause of opts.
func (o ListOptions) page() string {
	take := o.Take
	if take <= 0 {
		take = -1
	}
	if take < 0 {
		return fmt.Sprintf(" LIMIT %d OFFSET %d", 1<<62, max(o.Skip, 0))
	}
	return fmt.Sprintf(" LIMIT %d OFFSET %d", take, max(o.Skip, 0))
}

func whereClause(where []string) string {
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}
