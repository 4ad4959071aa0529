// Package server assembles a Pulpo server node: store, task runner, engine,
// built-in worker, REST API, health and metrics endpoints.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"github.com/pulpo-deploy/pulpo/internal/staging"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pulpo-deploy/pulpo/internal/api"
	"github.com/pulpo-deploy/pulpo/internal/auth"
	"github.com/pulpo-deploy/pulpo/internal/comms"
	"github.com/pulpo-deploy/pulpo/internal/engine"
	"github.com/pulpo-deploy/pulpo/internal/extfeed"
	"github.com/pulpo-deploy/pulpo/internal/feed"
	"github.com/pulpo-deploy/pulpo/internal/health"
	"github.com/pulpo-deploy/pulpo/internal/localtarget"
	"github.com/pulpo-deploy/pulpo/internal/model"
	"github.com/pulpo-deploy/pulpo/internal/notify"
	"github.com/pulpo-deploy/pulpo/internal/octoapi"
	"github.com/pulpo-deploy/pulpo/internal/runnerbin"
	"github.com/pulpo-deploy/pulpo/internal/scriptsvc"
	"github.com/pulpo-deploy/pulpo/internal/store"
	"github.com/pulpo-deploy/pulpo/internal/targets"
	"github.com/pulpo-deploy/pulpo/internal/tasks"
	"github.com/pulpo-deploy/pulpo/internal/web"
)

// Config is how a server node is started.
type Config struct {
	// DataDir holds the SQLite database (unless DatabaseURL is set) and the
	// built-in worker's script workspaces.
	DataDir string
	// Listen is the HTTP address, e.g. 127.0.0.1:8080.
	Listen string
	// DatabaseURL selects PostgreSQL.
	DatabaseURL string
	// NodeName identifies this node in task leases; unique per node.
	NodeName string
	// AdminAPIKey is the first administrator's key, used at first start only.
	AdminAPIKey string
	// PublicURL is how users reach the server, for links; from Listen when empty.
	PublicURL string
	// TaskSlots is how many tasks this node runs at once.
	TaskSlots int
	// TaskLease is how long a task claim lasts without renewal.
	TaskLease time.Duration
	// Clock is the time records are stamped with and expiries judged by;
	// time.Now when nil (tests move it on).
	Clock func() time.Time
	// StagingCheckTick is how often due staging checks and expiries are
	// looked for (default 1 s).
	StagingCheckTick time.Duration
	// CertificateCheckTick is how often certificates coming within the
	// expiry window are looked for (default 1 min).
	CertificateCheckTick time.Duration
	// Supervisor is the command that runs script supervisors; this
	// executable when empty.
	Supervisor []string
	// MasterKey seals secrets at rest (base64, 32 bytes); the data folder's
	// master.key, made on first start, when empty. Every node of one
	// database needs the same key.
	MasterKey string
	// PollingListen is where polling agents connect (host:port); empty
	// turns polling agents off.
	PollingListen string
	// PollingPublicAddress is how agents reach PollingListen, as
	// registration tells them; derived from PublicURL's host when empty.
	PollingPublicAddress string
	// PackagesDir holds the built-in feed's files (DATA/packages when
	// empty); nodes of one database share it.
	PackagesDir string
	// FeedRetention bounds what the feed keeps of each package.
	FeedRetention feed.Retention
	// FeedCacheMaxAge is how long the server keeps a package it downloaded
	// from an external feed, and each target any package it caches, after
	// a deployment last took it; 0 keeps them all.
	FeedCacheMaxAge time.Duration
	// RunnerBinary is the runner targets of this platform get (this
	// executable when empty); RunnersDir holds pulpo-OS-ARCH binaries for
	// other platforms (DATA/runners when empty).
	RunnerBinary string
	RunnersDir   string
	// TLSCertFile and TLSKeyFile serve the API and portal over HTTPS with
	// a certificate of your own; TLSSelfSigned with one the server makes
	// (kept in DATA/https).
	TLSCertFile, TLSKeyFile string
	TLSSelfSigned           bool
	// OIDC turns on OpenID Connect login (Issuer set); its RedirectURL is
	// derived from PublicURL when empty.
	OIDC auth.OIDCConfig
	// SMTP sends email notifications; nil when no SMTP server is given.
	SMTP    *notify.Mailer
	Version string
	Logger  *slog.Logger
	// Out receives what a person starting the server must read once: the
	// first administrator's credentials and where the server listens.
	Out io.Writer
}

// Node is an assembled server node, not yet serving.
type Node struct {
	cfg     Config
	store   *store.Store
	runner  *tasks.Runner
	handler http.Handler
	boot    *auth.Bootstrap
	unlock  func()

	targets     *targets.Manager
	health      *health.Checker
	identity    *comms.Identity
	pollingAddr net.Addr

	// feeds opens feeds by id: Feeds() hands it out.
	feeds *extfeed.StoreResolver

	stopRunner context.CancelFunc
	runnerDone chan error
	background sync.WaitGroup
}

// Feeds opens the node's feeds by id: external ones with their unsealed
// credentials, and feeds-builtin from the store.
func (n *Node) Feeds() extfeed.Resolver { return n.feeds }

// New opens the store, creates the first administrator on a first start,
// and wires the engine, the task runner and the HTTP handlers. The task
// runner starts at once; call Close when done.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.NodeName == "" {
		cfg.NodeName, _ = os.Hostname()
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.DataDir, err)
	}
	cfg.DataDir = abs
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", cfg.DataDir, err)
	}
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, unlock: unlock}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()

	if n.store, err = store.Open(ctx, store.Config{DatabaseURL: cfg.DatabaseURL, DataDir: cfg.DataDir, Logger: cfg.Logger, Clock: cfg.Clock}); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if n.boot, err = auth.EnsureAdmin(ctx, n.store, cfg.AdminAPIKey); err != nil {
		return nil, err
	}
	box, err := openSecrets(ctx, n.store, cfg.MasterKey, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	n.store.SetSealer(box)
	// External feeds (and the built-in one), opened with their unsealed
	// credentials: for the API, releases and deployments.
	n.feeds = api.StoreFeedResolver(n.store, nil)
	if n.identity, err = serverIdentity(ctx, n.store, box); err != nil {
		return nil, err
	}
	n.targets = targets.New(targets.Config{Store: n.store, Identity: n.identity, Secrets: box,
		Logger: cfg.Logger.With("component", "targets"), SSH: sshDialer{version: cfg.Version},
		PollingAddresses: n.livePollingAddresses})
	n.health = &health.Checker{Store: n.store, Targets: n.targets, Logger: cfg.Logger.With("component", "health")}
	var pollingLn net.Listener
	if cfg.PollingListen != "" {
		if pollingLn, err = net.Listen("tcp", cfg.PollingListen); err != nil {
			return nil, fmt.Errorf("listen for polling agents on %s: %w", cfg.PollingListen, err)
		}
		n.pollingAddr = pollingLn.Addr()
	}
	packagesDir := cfg.PackagesDir
	if packagesDir == "" {
		packagesDir = filepath.Join(cfg.DataDir, "packages")
	}
	pkgFeed := &feed.Feed{Store: n.store, Dir: packagesDir, Retention: cfg.FeedRetention}
	artifactsDir := filepath.Join(filepath.Dir(packagesDir), "artifacts")
	worker, err := localtarget.New("built-in worker", filepath.Join(cfg.DataDir, "worker"), cfg.Version, scriptsvc.Options{Supervisor: cfg.Supervisor})
	if err != nil {
		return nil, err
	}
	runners := &runnerbin.Binaries{Own: cfg.RunnerBinary, Version: cfg.Version, Dir: cfg.RunnersDir}
	if runners.Own == "" {
		if runners.Own, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("find this executable to hand it to targets as their runner: %w", err)
		}
	}
	if runners.Dir == "" {
		runners.Dir = filepath.Join(cfg.DataDir, "runners")
	}
	broker := tasks.NewBroker()
	n.runner = tasks.NewRunner(n.store, broker, tasks.Config{Node: cfg.NodeName, Slots: cfg.TaskSlots, Lease: cfg.TaskLease,
		Version: cfg.Version, APIURL: cfg.PublicURL, PollingAddress: n.PollingPublicAddress(),
		Logger: cfg.Logger.With("component", "tasks")})
	eng := engine.New(engine.Config{Store: n.store, Queue: n.runner, ServerURL: cfg.PublicURL, Logger: cfg.Logger.With("component", "engine"),
		Worker: worker, Targets: n.targets, Packages: pkgFeed, Runners: runners, ArtifactsDir: artifactsDir,
		Feeds: n.feeds, FeedCacheDir: filepath.Join(filepath.Dir(packagesDir), "feed-cache"),
		FeedCacheMaxAge: cfg.FeedCacheMaxAge, Health: n.health, Mail: engineMail(cfg.SMTP)})
	n.runner.Handle(model.TaskDeploy, eng.DeployHandler())
	stagings := staging.New(staging.Config{Store: n.store, Engine: eng, Queue: n.runner, Logger: cfg.Logger.With("component", "stagings"),
		CheckTick: cfg.StagingCheckTick})
	n.runner.Handle(model.TaskStaging, stagings.Handler())
	n.health.OnHealthy = func(ctx context.Context, q *store.Queries, m model.Machine) {
		eng.MachineAvailable(ctx, q, m, model.MachineHealthy)
	}

	a := api.New(api.Deps{Store: n.store, Engine: eng, Tasks: n.runner, Broker: broker, Auth: auth.NewAuthenticator(n.store),
		Logger: cfg.Logger.With("component", "api"), Version: cfg.Version,
		Targets: n.targets, Health: n.health, Secrets: box,
		ServerThumbprint: n.identity.Thumbprint, PollingAddress: n.PollingPublicAddress(),
		Feed: pkgFeed, ArtifactsDir: artifactsDir, EmailEnabled: cfg.SMTP != nil,
		SecureCookies: strings.HasPrefix(cfg.PublicURL, "https://"), OIDC: oidcLogin(cfg), OIDCAutoCreate: cfg.OIDC.AutoCreate,
		Nodes: n.runner, Stagings: stagings, Feeds: n.feeds})
	m := newMetrics(n.store, n.runner)
	mux := http.NewServeMux()
	mux.Handle(api.Prefix+"/", a)
	mux.Handle(api.Prefix, a)
	// Octopus's REST API, for pipelines built on Octopus's client: an
	// adapter over the native API (which keeps /api/v1, the longer match).
	octo := octoapi.New(a, cfg.Version, cfg.Logger.With("component", "octopus-api"))
	mux.Handle("/api/", octo)
	mux.Handle("/api", octo)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := n.store.Ping(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "database unreachable: %v\n", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", m.handler())
	portal, err := web.New(a, cfg.Version, cfg.Logger.With("component", "web"))
	if err != nil {
		return nil, fmt.Errorf("web portal: %w", err)
	}
	mux.Handle("/", portal)
	n.handler = m.instrument(mux)

	runnerCtx, stop := context.WithCancel(context.Background())
	n.stopRunner, n.runnerDone = stop, make(chan error, 1)
	go func() { n.runnerDone <- n.runner.Run(runnerCtx) }()
	n.background.Add(10)
	go func() {
		defer n.background.Done()
		if pollingLn == nil {
			return
		}
		if err := n.targets.PollingListener().Serve(runnerCtx, pollingLn); err != nil {
			cfg.Logger.Error("polling agents' listener stopped", "error", err)
		}
	}()
	go func() { defer n.background.Done(); n.targets.Sweep(runnerCtx, 10*time.Second) }()
	go func() { defer n.background.Done(); n.health.Run(runnerCtx) }()
	go func() { defer n.background.Done(); pruneSessions(runnerCtx, n.store, cfg.Logger) }()
	go func() {
		defer n.background.Done()
		pruneFeedCache(runnerCtx, eng, n.store.Now, cfg.FeedCacheMaxAge, cfg.Logger.With("component", "feeds"))
	}()
	// Work queued on any node wakes this one at once (PostgreSQL).
	go func() {
		defer n.background.Done()
		n.store.Listen(runnerCtx, n.runner.Notify, cfg.Logger.With("component", "tasks"))
	}()
	go func() { defer n.background.Done(); runSchedules(runnerCtx, eng, cfg.Logger) }()
	go func() { defer n.background.Done(); stagings.Run(runnerCtx) }()
	go func() {
		defer n.background.Done()
		watchCertificates(runnerCtx, n.store, cfg.CertificateCheckTick, cfg.Logger.With("component", "certificates"))
	}()
	dispatcher := &notify.Dispatcher{Store: n.store, Logger: cfg.Logger.With("component", "notify"), Mailer: cfg.SMTP}
	go func() { defer n.background.Done(); dispatcher.Run(runnerCtx) }()
	ok = true
	return n, nil
}

// livePollingAddresses are the polling addresses of the nodes alive now,
// which polling agents are told so they connect to every node.
func (n *Node) livePollingAddresses(ctx context.Context) []string {
	nodes, err := n.store.Read().ListNodes(ctx, 15*time.Second)
	if err != nil {
		return nil
	}
	var out []string
	for _, node := range nodes {
		if node.Alive && node.PollingAddress != "" {
			out = append(out, node.PollingAddress)
		}
	}
	return out
}

// oidcLogin is the OpenID Connect login flow, when an issuer is configured.
func oidcLogin(cfg Config) *auth.OIDC {
	if cfg.OIDC.Issuer == "" {
		return nil
	}
	o := cfg.OIDC
	if o.RedirectURL == "" {
		o.RedirectURL = strings.TrimSuffix(cfg.PublicURL, "/") + api.Prefix + "/users/oidc/callback"
	}
	return auth.NewOIDC(o)
}

// pruneSessions removes expired login sessions every hour (they are refused
// anyway; this keeps the table small).
func pruneSessions(ctx context.Context, s *store.Store, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.Tx(ctx, func(q *store.Queries) error {
			_, err := q.DeleteExpiredSessions(ctx, s.Now())
			return err
		})
		if err != nil && ctx.Err() == nil {
			logger.Warn("prune expired sessions", "error", err)
		}
	}
}

// pruneFeedCache removes, every hour, the external feeds' packages the
// server has not sent for maxAge.
func pruneFeedCache(ctx context.Context, eng *engine.Engine, now func() time.Time, maxAge time.Duration, logger *slog.Logger) {
	if maxAge <= 0 {
		return
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := eng.PruneFeedCache(now(), maxAge)
		if err != nil {
			logger.Warn("prune the feed cache", "error", err)
		} else if n > 0 {
			logger.Info("pruned the feed cache", "files", n)
		}
	}
}

// scheduleTick is how often due scheduled triggers are looked for: cron
// expressions may name seconds.
const scheduleTick = time.Second

// runSchedules fires due scheduled triggers until ctx ends.
func runSchedules(ctx context.Context, eng *engine.Engine, logger *slog.Logger) {
	tick := time.NewTicker(scheduleTick)
	defer tick.Stop()
	lastRetention := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := eng.FireDueSchedules(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("fire scheduled triggers", "error", err)
		}
		if time.Since(lastRetention) >= retentionEvery {
			lastRetention = time.Now()
			if _, err := eng.ApplyReleaseRetention(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("release retention", "error", err)
			}
		}
	}
}

// retentionEvery is how often release retention runs.
const retentionEvery = 10 * time.Minute

// Thumbprint is the certificate thumbprint agents must trust.
func (n *Node) Thumbprint() string { return n.identity.Thumbprint }

// PollingAddr is where polling agents connect, or nil.
func (n *Node) PollingAddr() net.Addr { return n.pollingAddr }

// PollingPublicAddress is the polling address agents are told to dial.
func (n *Node) PollingPublicAddress() string {
	if n.cfg.PollingPublicAddress != "" {
		return n.cfg.PollingPublicAddress
	}
	if n.pollingAddr == nil {
		return ""
	}
	host, port, _ := net.SplitHostPort(n.pollingAddr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if u, err := url.Parse(n.cfg.PublicURL); err == nil && u.Hostname() != "" {
			host = u.Hostname()
		}
	}
	return net.JoinHostPort(host, port)
}

// Targets is the node's connection manager.
func (n *Node) Targets() *targets.Manager { return n.targets }

// Handler serves the API, health checks and metrics.
func (n *Node) Handler() http.Handler { return n.handler }

// Bootstrap is what the first start created, or nil.
func (n *Node) Bootstrap() *auth.Bootstrap { return n.boot }

// Close stops the task runner (running deployments are left to be
// resumed) and closes the store.
func (n *Node) Close() {
	if n.stopRunner != nil {
		n.stopRunner()
		<-n.runnerDone
		n.background.Wait()
		n.stopRunner = nil
	}
	if n.targets != nil {
		n.targets.Close()
	}
	if n.store != nil {
		n.store.Close()
		n.store = nil
	}
	if n.unlock != nil {
		n.unlock()
		n.unlock = nil
	}
}

// Run starts a node and serves until ctx ends, then stops cleanly.
func Run(ctx context.Context, cfg Config) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	addr := ln.Addr().String()
	tlsConfig, httpsThumbprint, err := httpsConfig(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + addr
		if tlsConfig != nil {
			cfg.PublicURL = "https://" + addr
		}
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	n, err := New(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer n.Close()
	cfg = n.cfg
	httpServer := &http.Server{
		Handler:           n.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		// Requests end with the server, so live log streams do not hold a shutdown up.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	if b := n.Bootstrap(); b != nil {
		fmt.Fprintf(cfg.Out, "\nFirst start: created the administrator. This is shown once; keep it safe.\n"+
			"  username: %s\n  password: %s\n  API key:  %s\n\n", b.Username, b.Password, b.APIKey)
	}
	fmt.Fprintf(cfg.Out, "Pulpo %s is listening on %s (node %s, %s database, data in %s)\n",
		cfg.Version, cfg.PublicURL, cfg.NodeName, n.store.Dialect(), cfg.DataDir)
	fmt.Fprintf(cfg.Out, "Server certificate thumbprint (agents trust this): %s\n", n.Thumbprint())
	if httpsThumbprint != "" {
		fmt.Fprintf(cfg.Out, "HTTPS certificate thumbprint (pin it with --server-thumbprint or PULPO_SERVER_THUMBPRINT): %s\n", httpsThumbprint)
	}
	if a := n.PollingPublicAddress(); a != "" {
		fmt.Fprintf(cfg.Out, "Polling agents connect to %s\n", a)
	}
	cfg.Logger.Info("server started", "address", addr, "node", cfg.NodeName, "database", n.store.Dialect(), "data", cfg.DataDir)

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpServer.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	cfg.Logger.Info("server stopping")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	httpServer.Shutdown(shutdownCtx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// lockDataDir stops a second server from using the same data folder, which
// would corrupt the single-writer SQLite database and confuse workspaces.
func lockDataDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "server.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another Pulpo server (give each server its own --data)", dir)
	}
	return func() { f.Close() }, nil
}
