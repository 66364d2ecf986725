package pgtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// ErrNoPgBouncer is returned by StartPgBouncer when the pgbouncer binary is
// not installed.
var ErrNoPgBouncer = errors.New("pgtest: pgbouncer not found on PATH or in /usr/sbin; install Debian's \"pgbouncer\" package (apt-get install pgbouncer)")

// PgBouncer is a throwaway PgBouncer in front of a Cluster, listening on a
// unix socket in its own temporary directory.
type PgBouncer struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartPgBouncer starts PgBouncer in front of database on c, with the
// given pool mode ("transaction", "session" or "statement") and server
// pool size. Call Stop when done.
func StartPgBouncer(c *Cluster, database, poolMode string, poolSize int) (*PgBouncer, error) {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/pgbouncer"); serr != nil {
			return nil, ErrNoPgBouncer
		}
		bin = "/usr/sbin/pgbouncer"
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tenantkit-pgbouncer-")
	if err != nil {
		return nil, err
	}
	b := &PgBouncer{dir: dir, port: 6432, exited: make(chan struct{})}
	ini := fmt.Sprintf(`[databases]
%[1]s = host=%[2]s port=%[3]d dbname=%[1]s user=postgres

[pgbouncer]
listen_addr =
unix_socket_dir = %[4]s
listen_port = %[5]d
auth_type = trust
auth_file = %[4]s/users.txt
pool_mode = %[6]s
default_pool_size = %[7]d
max_client_conn = 500
ignore_startup_parameters = extra_float_digits
logfile = %[4]s/pgbouncer.log
pidfile = %[4]s/pgbouncer.pid
`, database, c.dir, c.port, dir, b.port, poolMode, poolSize)
	files := map[string]string{"pgbouncer.ini": ini, "users.txt": `"postgres" ""` + "\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if cred != nil {
		for _, p := range []string{dir, filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "users.txt")} {
			if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
		}
	}
	started := make(chan error, 1)
	go func() { // see Start: the thread must outlive the process it starts
		runtime.LockOSThread()
		cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
		if err := cmd.Start(); err != nil {
			started <- err
			close(b.exited)
			return
		}
		b.cmd = cmd
		started <- nil
		_ = cmd.Wait()
		close(b.exited)
	}()
	if err := <-started; err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: start pgbouncer: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		db, err := Open(b.DSN(database))
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return b, nil
		}
		select {
		case <-b.exited:
			log, _ := os.ReadFile(filepath.Join(dir, "pgbouncer.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pgtest: pgbouncer exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			b.Stop()
			return nil, fmt.Errorf("pgtest: pgbouncer not ready: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// DSN returns a connection string for database through PgBouncer, for
// the tests' driver. Transaction pooling forbids a prepared statement that
// outlives its transaction: binary_parameters=yes makes lib/pq send each
// parameterised statement as one unnamed message sequence, and
// default_query_exec_mode=exec does the same for pgx, which otherwise
// caches prepared statements per connection.
func (b *PgBouncer) DSN(database string) string {
	dsn := "host=" + b.dir + " port=" + strconv.Itoa(b.port) + " user=postgres dbname=" + database + " sslmode=disable"
	if IsPgx() {
		return dsn + " default_query_exec_mode=exec"
	}
	return dsn + " binary_parameters=yes"
}

// Stop stops PgBouncer and removes its directory.
func (b *PgBouncer) Stop() {
	if b.cmd != nil && b.cmd.Process != nil {
		_ = b.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-b.exited:
		case <-time.After(5 * time.Second):
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	}
	os.RemoveAll(b.dir)
}

// Log returns PgBouncer's log so far.
func (b *PgBouncer) Log() string {
	log, _ := os.ReadFile(filepath.Join(b.dir, "pgbouncer.log"))
	return string(log)
}
