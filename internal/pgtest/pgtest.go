// Package pgtest starts a private, throwaway PostgreSQL cluster from the
// server binaries installed on this machine, for tests and for the demo.
//
// The cluster lives in a temporary directory, listens only on a unix socket
// inside that directory (no TCP port, so runs never collide), and runs with
// fsync off. When the calling process runs as root, initdb and postgres run
// as the unprivileged "postgres" account (Debian's), because PostgreSQL
// refuses to run as root.
//
// The server is started with a parent-death signal, so even a process that
// is killed outright does not leave a server running; Stop removes the
// directory, and a small janitor process removes it when the process dies
// without Stop (a panicking test, -timeout, kill -9). Main wires this into
// a TestMain, including Ctrl-C.
//
// StartReplica starts a streaming hot standby of a cluster, for tests of
// read replicas; CatchUp waits until it has replayed the primary's commits.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // the driver the DSNs are for
)

// ErrNoServer is returned by Start when no PostgreSQL server binaries are
// found.
var ErrNoServer = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found on PATH or under /usr/lib/postgresql/*/bin; install Debian's \"postgresql\" package (apt-get install postgresql)")

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	dir     string // temporary directory: data/ and the socket
	port    int
	bin     string   // the directory of the server binaries
	args    []string // postgres' settings ("-c", "name=value", ...)
	primary *Cluster // for a replica (StartReplica), its primary
	cmd     *exec.Cmd
	exited  chan struct{}
	stopped sync.Once
	dbSeq   atomic.Int64
	janitor *os.File // write end of the janitor's pipe
}

// Options tune Start. The zero value is what tests want.
type Options struct {
	// MaxConnections is postgres' max_connections. Default 300.
	MaxConnections int
	// Settings are extra "name=value" server settings.
	Settings []string
	// BinDir is the directory holding initdb, postgres and pg_basebackup.
	// Default: what the function BinDir finds.
	BinDir string
}

// BinDir returns the directory holding initdb and postgres: the one on PATH
// first, else the newest /usr/lib/postgresql/<version>/bin, else
// ErrNoServer.
func BinDir() (string, error) { return binDirUnder("/usr/lib/postgresql") }

// binDirUnder is BinDir with root in place of /usr/lib/postgresql.
func binDirUnder(root string) (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob(filepath.Join(root, "*", "bin", "initdb"))
	sort.Slice(matches, func(i, j int) bool {
		return versionOf(matches[i]) > versionOf(matches[j])
	})
	for _, m := range matches {
		dir := filepath.Dir(m)
		if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
			return dir, nil
		}
	}
	return "", ErrNoServer
}

func versionOf(initdbPath string) float64 {
	// /usr/lib/postgresql/<v>/bin/initdb
	v := filepath.Base(filepath.Dir(filepath.Dir(initdbPath)))
	f, _ := strconv.ParseFloat(v, 64)
	return f
}

// Start initialises and starts a new cluster. Call Stop when done.
func Start(opts Options) (*Cluster, error) {
	bin := opts.BinDir
	if bin == "" {
		var err error
		if bin, err = BinDir(); err != nil {
			return nil, err
		}
	} else if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return nil, fmt.Errorf("%w (looked in %s)", ErrNoServer, bin)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 300
	}
	c, cred, err := newCluster("tenantkit-pg-")
	if err != nil {
		return nil, err
	}
	c.bin = bin
	data := filepath.Join(c.dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = c.dir
	if out, err := initdb.CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	c.args = []string{
		"-c", "listen_addresses=",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "max_connections=" + strconv.Itoa(opts.MaxConnections),
		"-c", "shared_buffers=128MB",
		"-c", "max_locks_per_transaction=1024",
		"-c", "log_min_messages=fatal",
	}
	for _, s := range opts.Settings {
		c.args = append(c.args, "-c", s)
	}
	if err := c.launch(cred); err != nil {
		return nil, err
	}
	return c, nil
}

// newCluster makes a Cluster value with its temporary directory, owned by
// the account the server runs as, and the janitor that removes it.
func newCluster(prefix string) (*Cluster, *syscall.Credential, error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir, port: 5432, exited: make(chan struct{})}
	if err := c.startJanitor(); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			c.Stop()
			return nil, nil, fmt.Errorf("pgtest: chown %s: %w", dir, err)
		}
	}
	return c, cred, nil
}

// launch starts postgres on c's data directory with c's settings, its
// socket in c's directory, and waits until it accepts connections. On
// failure it stops c (removing its directory).
func (c *Cluster) launch(cred *syscall.Credential) error {
	args := append([]string{"-D", filepath.Join(c.dir, "data"), "-k", c.dir, "-p", strconv.Itoa(c.port)}, c.args...)
	logf, err := os.Create(filepath.Join(c.dir, "server.log"))
	if err != nil {
		c.Stop()
		return fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		_ = logf.Chown(int(cred.Uid), int(cred.Gid))
	}
	started := make(chan error, 1)
	// The server is started from a goroutine locked to its OS thread that
	// lives as long as the server: Pdeathsig fires when the starting thread
	// exits, so the thread must outlive the server. If this process dies, the
	// kernel sends the server SIGQUIT (immediate shutdown).
	go func() {
		runtime.LockOSThread()
		cmd := exec.Command(filepath.Join(c.bin, "postgres"), args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
		if err := cmd.Start(); err != nil {
			logf.Close()
			started <- err
			close(c.exited)
			return
		}
		c.cmd = cmd
		started <- nil
		_ = cmd.Wait()
		logf.Close()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		c.Stop()
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	if err := c.waitReady(30 * time.Second); err != nil {
		c.Stop()
		return err
	}
	return nil
}

// serverCredential is nil when we may run postgres as ourselves, or the
// postgres account's credential when we are root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, and PostgreSQL refuses to run as root; no \"postgres\" account to run it as (Debian's \"postgresql\" package creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func (c *Cluster) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var lastErr error
	for time.Now().Before(deadline) {
		select {
		case <-c.exited:
			log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
			return fmt.Errorf("pgtest: postgres exited during start:\n%s", log)
		default:
		}
		db, err := Open(c.DSN("postgres"))
		if err == nil {
			err = db.Ping()
			db.Close()
			if err == nil {
				return nil
			}
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("pgtest: postgres not ready after %v: %v", limit, lastErr)
}

// Dir is the cluster's temporary directory (it holds the socket).
func (c *Cluster) Dir() string { return c.dir }

// DSN returns a lib/pq connection string for the named database, over the
// cluster's unix socket as the superuser "postgres".
func (c *Cluster) DSN(database string) string {
	return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", c.dir, c.port, database)
}

// URL returns the same as DSN in URL form (postgres://...), for tools that
// want one.
func (c *Cluster) URL(database string) string {
	return fmt.Sprintf("postgres://postgres@/%s?host=%s&port=%d&sslmode=disable", database, c.dir, c.port)
}

// CreateDatabase creates a new, empty database with a unique name that
// starts with prefix, and returns its name.
func (c *Cluster) CreateDatabase(ctx context.Context, prefix string) (string, error) {
	name := fmt.Sprintf("%s_%d", sanitize(prefix), c.dbSeq.Add(1))
	db, err := Open(c.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return name, nil
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		if b.Len() >= 40 {
			break
		}
	}
	if b.Len() == 0 {
		return "db"
	}
	return b.String()
}

// startJanitor starts a small process that removes the cluster's
// directory once this process is gone, however it ends: Stop removes it
// first in an orderly exit, but a panicking test, -timeout or kill -9 never
// runs Stop. The janitor holds the read end of a pipe whose write end only
// this process has; the kernel closes it when the process dies, the
// janitor's read returns, and it waits for the server (which dies of its
// parent-death signal) to go before it removes the directory. It runs in
// its own process group, so a Ctrl-C at the terminal does not kill it
// first.
func (c *Cluster) startJanitor() error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("pgtest: janitor: %w", err)
	}
	const script = `cat >/dev/null; i=0; while [ -e "$1/data/postmaster.pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; rm -rf "$1"`
	cmd := exec.Command("/bin/sh", "-c", script, "pgtest-janitor", c.dir)
	cmd.Stdin = r
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return fmt.Errorf("pgtest: janitor: %w", err)
	}
	r.Close()
	c.janitor = w // never written; closed by the kernel at exit, or by Stop
	go func() { _ = cmd.Wait() }()
	return nil
}

// Stop shuts the server down (fast shutdown) and removes its directory. It is
// safe to call more than once.
func (c *Cluster) Stop() {
	c.stopped.Do(func() {
		if c.cmd != nil && c.cmd.Process != nil {
			_ = c.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				_ = c.cmd.Process.Kill()
				<-c.exited
			}
		}
		os.RemoveAll(c.dir)
		if c.janitor != nil {
			c.janitor.Close() // the janitor finds nothing left and exits
		}
	})
}

// TB is the part of testing.TB that OpenDB needs.
type TB interface {
	Helper()
	Name() string
	Fatalf(format string, args ...any)
	Cleanup(func())
	Context() context.Context
}

// shared is the cluster started by Main for this test process.
var shared atomic.Pointer[Cluster]

// Main runs a package's tests with one throwaway cluster for the whole test
// process: it starts the cluster, runs m, and stops the cluster afterwards,
// also on SIGINT or SIGTERM. Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// A machine without PostgreSQL fails the run loudly; it never skips.
func Main(m *testing.M) {
	code, err := Run(m, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// M is what Run needs of a *testing.M.
type M interface{ Run() int }

// Run is Main without the exit: it starts the shared cluster with opts,
// runs m and stops the cluster, and returns m's exit code. When the
// cluster cannot start it returns code 1 and the error (ErrNoServer when
// the server binaries are missing) without running m.
func Run(m M, opts Options) (int, error) {
	c, err := Start(opts)
	if err != nil {
		return 1, err
	}
	shared.Store(c)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sig; ok {
			c.Stop()
			os.Exit(130)
		}
	}()
	code := m.Run()
	signal.Stop(sig)
	c.Stop()
	shared.CompareAndSwap(c, nil)
	return code, nil
}

// Shared returns the cluster that Main started. It fails the test if Main
// was not used.
func Shared(t TB) *Cluster {
	t.Helper()
	c := shared.Load()
	if c == nil {
		t.Fatalf("pgtest: no cluster: call pgtest.Main from TestMain")
	}
	return c
}

// SharedCluster returns the cluster that Main started, or nil. Example
// functions, which have no *testing.T, use it.
func SharedCluster() *Cluster { return shared.Load() }

// NewDatabase creates a fresh database on the shared cluster for this test
// and returns its DSN.
func NewDatabase(t TB) string {
	t.Helper()
	c := Shared(t)
	name, err := c.CreateDatabase(context.Background(), t.Name())
	if err != nil {
		t.Fatalf("%v", err)
	}
	return c.DSN(name)
}
