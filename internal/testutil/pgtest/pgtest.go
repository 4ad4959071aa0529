// Package pgtest runs a throwaway PostgreSQL cluster for tests: initdb into
// a temporary folder, postgres listening on a Unix socket there, removed at
// the end. Where PostgreSQL is missing, tests skip, except under CI=true,
// where they fail, so nothing is silently left out.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Cluster is a running throwaway PostgreSQL.
type Cluster struct {
	dir     string
	sockDir string
	cmd     *exec.Cmd
	mu      sync.Mutex
	nextDB  int
}

// ErrUnavailable means PostgreSQL binaries were not found on this machine.
var ErrUnavailable = errors.New("PostgreSQL not found under /usr/lib/postgresql/*/bin")

// binDir finds the newest installed PostgreSQL.
func binDir() (string, error) {
	if d := os.Getenv("PULPO_PG_BIN"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) == 0 {
		return "", ErrUnavailable
	}
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) > version(matches[j]) })
	return filepath.Dir(matches[0]), nil
}

func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// Start creates and starts a cluster. PostgreSQL refuses to run as root, so
// as root it runs as the "postgres" (or "nobody") user.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pulpo-pg-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir, sockDir: dir}
	cred, err := credential()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "pulpo", "--auth=trust", "-E", "UTF8", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	// Durability settings are off: the cluster lives for one test run.
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", c.sockDir,
		"-c", "listen_addresses=", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB")
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
	c.cmd.Dir = dir
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.cmd.Stdout, c.cmd.Stderr = logFile, logFile
	if err := c.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	if err := c.waitReady(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		c.Stop()
		return nil, fmt.Errorf("%w\npostgres log:\n%s", err, log)
	}
	return c, nil
}

func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and found neither a postgres nor a nobody user to run PostgreSQL as")
}

func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", c.URL("postgres"))
		if err == nil {
			err = db.PingContext(ctx)
			db.Close()
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres did not accept connections within 30s: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// URL is the connection URL of a database in the cluster.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://pulpo@/%s?host=%s&sslmode=disable", db, c.sockDir)
}

// NewDatabase creates an empty database and returns its URL.
func (c *Cluster) NewDatabase(ctx context.Context) (string, error) {
	c.mu.Lock()
	c.nextDB++
	name := fmt.Sprintf("pulpo_test_%d", c.nextDB)
	c.mu.Unlock()
	db, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return c.URL(name), nil
}

// Stop ends postgres and removes the cluster's files.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGQUIT) // immediate shutdown
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(c.dir)
}

// Shared is a cluster started once per test binary, on first use.
type Shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// Database returns the URL of a fresh database for t, starting the cluster
// if needed. Without PostgreSQL it skips t, or fails it under CI=true.
func (s *Shared) Database(t testing.TB) string {
	t.Helper()
	s.once.Do(func() {
		s.cluster, s.err = Start(context.Background())
	})
	if s.err != nil {
		if errors.Is(s.err, ErrUnavailable) && os.Getenv("CI") != "true" {
			t.Skipf("skipping PostgreSQL test: %v", s.err)
		}
		t.Fatalf("start PostgreSQL: %v", s.err)
	}
	url, err := s.cluster.NewDatabase(context.Background())
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	return url
}

// Stop stops the cluster if it was started; call it from TestMain.
func (s *Shared) Stop() {
	if s.cluster != nil {
		s.cluster.Stop()
	}
}
