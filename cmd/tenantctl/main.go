// Tenantctl is the operator's tool for a tenantkit database: it migrates
// the shared schema and every tenant schema, provisions, deletes, restores,
// purges and clones tenants, manages users and their memberships, and runs
// one SQL statement in every tenant.
//
// # Usage
//
//	tenantctl <command> [flags] [arguments]
//	tenantctl help [command]
//	tenantctl <command> --help
//
// Commands:
//
//	migrate               migrate the shared schema, then every tenant schema
//	check-citus           check that every tenant schema could move to a Citus worker
//	list-tenants          list tenants
//	create-user           create a user and print its id
//	create-public-tenant  create the public tenant on the shared schema
//	provision             create a tenant with its schema and primary domain
//	delete-tenant         delete a tenant softly (its schema and data stay)
//	restore-tenant        bring a deleted tenant back
//	purge-tenant          drop a deleted tenant's schema and rows for good
//	clone-tenant          create a tenant as a copy of another
//	delete-user           delete a user softly, and the tenants it owns
//	add-user              make a user a member of a tenant
//	remove-user           take a user out of a tenant
//	grant                 give a member permissions in a tenant
//	exec                  run one SQL statement in every live tenant
//
// Flags come after the command, and every command takes these:
//
//	--database DSN            lib/pq DSN or postgres:// URL (default $DATABASE_URL)
//	--shared-schema NAME      schema of tenantkit's shared tables (default public)
//	--base-domain DOMAIN      base of primary domains, slug.DOMAIN
//	                          (default $TENANTKIT_BASE_DOMAIN, else localhost)
//	--migrations DIR          folder of the default tenant type's migrations
//	--migrations-for TYPE=DIR folder of another tenant type's migrations (repeatable)
//	--shared-migrations DIR   folder of the application's shared-schema migrations
//	--json                    print JSON for scripts instead of lines for people
//
// For example:
//
//	tenantctl migrate --database "$DSN" --migrations ./migrations --parallel 8
//	tenantctl migrate --plan --type premium --migrations-for premium=./premium
//	tenantctl provision --name Acme --slug acme --owner alice@example.com
//	tenantctl exec --sql "select count(*) from notes" --json
//	tenantctl check-citus --json
//
// On a terminal, migrate shows a progress bar on standard error (counts,
// rate, time left); otherwise it prints a plain progress line every tenth
// of the run. Errors are printed as one line on standard error, prefixed
// "tenantctl: ", never a stack trace. See docs/migrations.md.
//
// # Exit codes
//
//	0    success
//	1    the operation failed, in whole or in part (for example some
//	     schemas failed to migrate, or a statement failed in some tenants)
//	2    usage error: unknown command or flag, missing argument, no database
//	130  interrupted (SIGINT or SIGTERM): work already committed stays;
//	     migrate resumes where it stopped when run again
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // the PostgreSQL driver

	"github.com/tenantkit/tenantkit/tenancy"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // as a shell reports a process ended by SIGINT
)

// run runs tenantctl with args (without the program name) and returns the
// exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv}
	return c.run(ctx, args)
}

// cli is one invocation's environment.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	// afterSchema, when set (tests), is called by migrate after each
	// tenant schema's result, with the count done so far.
	afterSchema func(done int)
	// now is the clock of progress reports; nil means time.Now.
	now func() time.Time
	// args are the positional arguments parse found.
	args []string
}

// command is one subcommand.
type command struct {
	name  string
	args  string // synopsis of its own flags and arguments
	brief string // one line for the list of commands
	doc   string // what it does and prints, for its help
	run   func(c *cli, ctx context.Context, cmd *command, args []string) error
}

// commands is the table of subcommands, in the order help lists them.
var commands = []command{
	{"migrate", "[--parallel N] [--tenant SLUG] [--type TYPE] [--plan] [--fail-fast] [--citus-check] [--extra-search-path SCHEMA]...",
		"migrate the shared schema, then every tenant schema",
		`Migrate the shared schema, then every tenant schema (deleted tenants
included, so a restored tenant is up to date), N schemas at a time, each in
its own transaction under a per-schema advisory lock: two runs at once are
safe, and an interrupted run resumes where it stopped. Prints
SCHEMA<TAB>applied N or SCHEMA<TAB>FAILED: SET/FILE: ERROR per schema as it
finishes, then a summary; progress goes to stderr (a bar on a terminal).
By default it goes on past a failing schema and exits 1 at the end if any
failed; --fail-fast starts no schema after the first failure. With --plan
it applies nothing and lists what would run where, shared schema included.
With --citus-check each tenant schema where files ran is checked, whole,
before it commits, as check-citus does: a schema that could not move to a
Citus worker on its own fails and its migration is rolled back. --json prints an
array of per-schema results (status applied, up to date, failed or not
started).`, (*cli).migrate},
	{"check-citus", "[--tenant SLUG] [--type TYPE] [--extra-search-path SCHEMA]...",
		"check that every tenant schema could move to a Citus worker",
		`Check every tenant schema (deleted tenants' included; not the shared
schema) for what would keep it from moving to a Citus worker on its own
under schema-based sharding: a foreign key out of it or into it, a view
over another schema's table, a default from another schema's sequence, a
function or type of another schema (pg_catalog's, extensions' and those of
the --extra-search-path schemas aside), inheritance, a foreign table, an
extension installed in it, a rule. It reads the catalog and changes
nothing. Prints SCHEMA<TAB>KIND: OBJECT references WHAT (WHY) per problem,
then a summary, and exits 1 if any schema has one. --json prints an array
of per-schema results with their violations. See docs/citus.md.`, (*cli).checkCitus},
	{"list-tenants", "[--all] [--type TYPE]",
		"list tenants",
		`List the live tenants (with --all, deleted ones too): id, slug, name,
schema, type, owner, state and primary domain.`, (*cli).listTenants},
	{"create-user", "--email EMAIL [--password P | --password-stdin] [--superuser]",
		"create a user and print its id",
		`Create an active user and print its id. Without a password the user
cannot log in with one.`, (*cli).createUser},
	{"create-public-tenant", "--domain DOMAIN --owner EMAIL",
		"create the public tenant on the shared schema",
		`Create the public tenant, which lives on the shared schema and takes over
deleted tenants, owned by EMAIL (created without a password if missing).
Prints ID<TAB>SCHEMA<TAB>DOMAIN.`, (*cli).createPublicTenant},
	{"provision", "--name NAME --slug SLUG --owner EMAIL [--type TYPE] [--schema NAME]",
		"create a tenant with its schema and primary domain",
		`Create a tenant, its schema with its type's migrations, its primary domain
SLUG.<base domain> and its owner's membership, all or nothing.
Prints ID<TAB>SCHEMA<TAB>DOMAIN.`, (*cli).provision},
	{"delete-tenant", "--slug SLUG",
		"delete a tenant softly (its schema and data stay)",
		`Delete a tenant softly: it stops resolving, its domain names are free
again, its members are removed and the public tenant's owner takes it
over. Its schema and data stay: restore-tenant brings it back.`, (*cli).deleteTenant},
	{"restore-tenant", "--slug SLUG --owner EMAIL",
		"bring a deleted tenant back",
		`Bring a deleted tenant back with all its data: it is live again, owned
by EMAIL (a superuser member), and its domains resolve to it again. Its
former members do not come back. Fails, restoring nothing, if a live
tenant has taken its slug or one of its domains. With several deleted
tenants of one slug, the most recently deleted one is restored.`, (*cli).restoreTenant},
	{"purge-tenant", "--slug SLUG --yes",
		"drop a deleted tenant's schema and rows for good",
		`Drop a deleted tenant's schema with all its data, and its rows, for
good: there is no undo. The tenant must have been deleted first
(delete-tenant), and --yes must be given. With several deleted tenants of
one slug, the most recently deleted one is purged.`, (*cli).purgeTenant},
	{"clone-tenant", "--from SLUG --name NAME --slug SLUG --owner EMAIL [--with-data] [--schema NAME]",
		"create a tenant as a copy of another",
		`Create a tenant of the source's type whose schema is a copy of the live
tenant --from: tables, indexes, constraints and sequences, and with
--with-data their rows too; its only member is its owner. All or nothing.
Prints ID<TAB>SCHEMA<TAB>DOMAIN.`, (*cli).cloneTenant},
	{"delete-user", "--email EMAIL",
		"delete a user softly, and the tenants it owns",
		`Delete a user softly: it is deactivated, removed from every tenant and
logged out, and the tenants it owns are deleted softly.`, (*cli).deleteUser},
	{"add-user", "--slug SLUG --email EMAIL [--superuser] [--staff]",
		"make a user a member of a tenant",
		`Make an active user a member of a live tenant.`, (*cli).addUser},
	{"remove-user", "--slug SLUG --email EMAIL",
		"take a user out of a tenant",
		`Take a user out of a tenant, with its rights there. The owner cannot be
removed.`, (*cli).removeUser},
	{"grant", "--slug SLUG --email EMAIL PERMISSION...",
		"give a member permissions in a tenant",
		`Give a member of the tenant permissions, such as notes.add, directly.
The permissions follow the flags.`, (*cli).grant},
	{"exec", `--sql "STATEMENT" [--parallel N] [--tenant SLUG] [--type TYPE]`,
		"run one SQL statement in every live tenant",
		`Run one SQL statement in every live tenant's schema (not the shared
schema), N tenants at a time, each in its own transaction. Prints, in
tenant order, SLUG<TAB>N rows affected, or for a statement that returns
rows one SLUG<TAB>VALUE<TAB>... line per row (NULL for null; tabs and
newlines escaped). Failures go to stderr, and exit 1. --json prints an
array with each tenant's columns, rows (null for NULL), rows affected or
error.`, (*cli).exec},
}

func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

func (c *cli) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		c.usage(c.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			cmd := lookup(args[1])
			if cmd == nil {
				fmt.Fprintf(c.stderr, "tenantctl: help: unknown command %q (run 'tenantctl help')\n", args[1])
				return exitUsage
			}
			_ = cmd.run(c, ctx, cmd, []string{"--help"})
			return exitOK
		}
		c.usage(c.stdout)
		return exitOK
	}
	cmd := lookup(name)
	if cmd == nil {
		if strings.HasPrefix(name, "-") {
			fmt.Fprintf(c.stderr, "tenantctl: flags go after the command, as in 'tenantctl migrate %s ...' (run 'tenantctl help')\n", name)
		} else {
			fmt.Fprintf(c.stderr, "tenantctl: unknown command %q (run 'tenantctl help')\n", name)
		}
		return exitUsage
	}
	err := cmd.run(c, ctx, cmd, args[1:])
	var uerr *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case ctx.Err() != nil:
		fmt.Fprintf(c.stderr, "tenantctl: interrupted: %s\n", oneLine(err.Error()))
		return exitInterrupted
	case errors.As(err, &uerr):
		fmt.Fprintf(c.stderr, "tenantctl: %s: %s (see 'tenantctl help %s')\n", cmd.name, oneLine(uerr.msg), cmd.name)
		return exitUsage
	default:
		// The packages' errors name their operation themselves.
		fmt.Fprintf(c.stderr, "tenantctl: %s\n", oneLine(err.Error()))
		return exitFailed
	}
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ")
}

func (c *cli) usage(w io.Writer) {
	fmt.Fprint(w, `tenantctl is the operator's tool for a tenantkit database.

Usage:
  tenantctl <command> [flags] [arguments]
  tenantctl help [command]

Commands:
`)
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-21s %s\n", cmd.name, cmd.brief)
	}
	fmt.Fprint(w, `
Every command takes these flags, after the command name:
  --database DSN             lib/pq DSN or postgres:// URL (default $DATABASE_URL)
  --shared-schema NAME       schema of tenantkit's shared tables (default public)
  --base-domain DOMAIN       base of primary domains (default $TENANTKIT_BASE_DOMAIN, else localhost)
  --migrations DIR           folder of the default tenant type's migrations
  --migrations-for TYPE=DIR  folder of another tenant type's migrations (repeatable)
  --shared-migrations DIR    folder of the application's shared-schema migrations
  --json                     print JSON for scripts instead of lines for people

Exit codes:
  0    success
  1    the operation failed, in whole or in part (e.g. some schemas failed to migrate)
  2    usage error: unknown command or flag, missing argument, no database
  130  interrupted (SIGINT/SIGTERM); what finished stays committed, and
       migrate resumes where it stopped when run again
`)
}

func (c *cli) commandUsage(cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(c.stdout, "usage: tenantctl %s %s [common flags]\n\n%s\n\nFlags (- or --):\n", cmd.name, cmd.args, cmd.doc)
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	fmt.Fprint(c.stdout, "\nExit codes: 0 success, 1 failed (in whole or in part), 2 usage error, 130 interrupted.\n")
}

// common are the flags every command takes.
type common struct {
	database         string
	sharedSchema     string
	baseDomain       string
	migrations       string
	typeMigrations   typeDirs
	sharedMigrations string
	json             bool
}

// typeDirs is the repeatable --migrations-for TYPE=DIR flag.
type typeDirs []typeDir

type typeDir struct{ typ, dir string }

func (t *typeDirs) String() string {
	var parts []string
	for _, td := range *t {
		parts = append(parts, td.typ+"="+td.dir)
	}
	return strings.Join(parts, ",")
}

func (t *typeDirs) Set(v string) error {
	typ, dir, ok := strings.Cut(v, "=")
	if !ok || typ == "" || dir == "" {
		return fmt.Errorf("want TYPE=DIR, got %q", v)
	}
	*t = append(*t, typeDir{typ, dir})
	return nil
}

// flagSet returns a FlagSet for cmd with the common flags added. It
// prints nothing itself: parse reports errors and help.
func (c *cli) flagSet(cmd *command) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var g common
	fs.StringVar(&g.database, "database", "", "the database, as a lib/pq `DSN` or a postgres:// URL (default $DATABASE_URL)")
	fs.StringVar(&g.sharedSchema, "shared-schema", "public", "`schema` holding tenantkit's shared tables")
	fs.StringVar(&g.baseDomain, "base-domain", "", "base `domain` of tenants' primary domains (default $TENANTKIT_BASE_DOMAIN, else localhost)")
	fs.StringVar(&g.migrations, "migrations", "", "`dir`ectory of the default tenant type's migrations")
	fs.Var(&g.typeMigrations, "migrations-for", "`TYPE=DIR`: directory of tenant type TYPE's migrations (repeatable)")
	fs.StringVar(&g.sharedMigrations, "shared-migrations", "", "`dir`ectory of the application's shared-schema migrations")
	fs.BoolVar(&g.json, "json", false, "print JSON for scripts instead of lines for people")
	return fs, &g
}

// parse parses args into fs. It prints cmd's help and returns
// flag.ErrHelp for -h/--help, and a usageError for a bad flag or an
// unexpected argument (unless positional is set). With positional, flags
// may also follow the arguments (grant ... notes.add --json), and the
// arguments are left in c.args ("--" ends the flags).
func (c *cli) parse(cmd *command, fs *flag.FlagSet, args []string, positional bool) error {
	c.args = nil
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.commandUsage(cmd, fs)
			return err
		}
		if err != nil {
			return usagef("%v", err)
		}
		if fs.NArg() == 0 {
			return nil
		}
		if !positional {
			return usagef("unexpected argument %q", fs.Arg(0))
		}
		rest := fs.Args()
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			c.args = append(c.args, rest...) // after "--": no more flags
			return nil
		}
		c.args = append(c.args, rest[0])
		args = rest[1:]
	}
}

// required returns a usageError naming the first empty flag.
func required(flags ...[2]string) error {
	for _, f := range flags {
		if strings.TrimSpace(f[1]) == "" {
			return usagef("--%s is required", f[0])
		}
	}
	return nil
}

// connect opens the database and builds a Manager from the common flags
// and the command's extra options. Call the returned close function when
// done.
func (c *cli) connect(ctx context.Context, g *common, extra ...tenancy.Option) (*tenancy.Manager, func(), error) {
	dsn := g.database
	if dsn == "" {
		dsn = c.getenv("DATABASE_URL")
	}
	if dsn == "" {
		return nil, nil, usagef("no database: set DATABASE_URL or pass --database")
	}
	base := g.baseDomain
	if base == "" {
		base = c.getenv("TENANTKIT_BASE_DOMAIN")
	}
	if base == "" {
		base = "localhost"
	}
	opts := append([]tenancy.Option{tenancy.WithSharedSchema(g.sharedSchema), tenancy.WithBaseDomain(base)}, extra...)
	dirFS := func(flag, dir string) (fs.FS, error) {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, usagef("--%s %s: not a readable directory", flag, dir)
		}
		return os.DirFS(dir), nil
	}
	if g.migrations != "" {
		fsys, err := dirFS("migrations", g.migrations)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, tenancy.WithTenantMigrations(fsys))
	}
	for _, td := range g.typeMigrations {
		fsys, err := dirFS("migrations-for", td.dir)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, tenancy.WithTenantType(td.typ, fsys))
	}
	if g.sharedMigrations != "" {
		fsys, err := dirFS("shared-migrations", g.sharedMigrations)
		if err != nil {
			return nil, nil, err
		}
		opts = append(opts, tenancy.WithSharedMigrations(fsys))
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, nil, usagef("--database: %v", err)
	}
	mgr, err := tenancy.NewManager(db, opts...)
	if err != nil {
		db.Close()
		return nil, nil, usagef("%v", err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("connect to the database: %w", err)
	}
	return mgr, func() { db.Close() }, nil
}

// emit prints v as JSON with --json, else the human text (when not empty).
func (c *cli) emit(g *common, v any, human string) error {
	if g.json {
		return writeJSON(c.stdout, v)
	}
	if human != "" {
		_, err := io.WriteString(c.stdout, human)
		return err
	}
	return nil
}
