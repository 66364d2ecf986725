// Tenantctl is the operator's tool for a tenantkit database: it migrates
// the shared schema and every tenant schema, provisions and deletes
// tenants, manages users and their memberships, and runs one SQL
// statement in every tenant.
//
// # Usage
//
//	tenantctl <command> [flags] [arguments]
//	tenantctl help [command]
//
// Commands:
//
//	migrate               migrate the shared schema, then every tenant schema
//	list-tenants          list tenants
//	create-user           create a user and print its id
//	create-public-tenant  create the public tenant on the shared schema
//	provision             create a tenant with its schema and primary domain
//	delete-tenant         delete a tenant softly (its schema and data stay)
//	delete-user           delete a user softly, and the tenants it owns
//	add-user              make a user a member of a tenant
//	remove-user           take a user out of a tenant
//	grant                 give a member permissions in a tenant
//	exec                  run one SQL statement in every live tenant
//
// Flags come after the command, and every command takes these:
//
//	--database DSN        lib/pq DSN or postgres:// URL (default $DATABASE_URL)
//	--shared-schema NAME  schema of tenantkit's shared tables (default public)
//	--base-domain DOMAIN  base of primary domains, slug.DOMAIN
//	                      (default $TENANTKIT_BASE_DOMAIN, else localhost)
//	--migrations DIR      folder of the default tenant type's migrations
//
// For example:
//
//	tenantctl migrate --database "$DSN" --migrations ./migrations --parallel 8
//	tenantctl provision --name Acme --slug acme --owner alice@example.com
//	tenantctl exec --sql "select count(*) from notes"
//
// Errors are printed as one line on standard error, prefixed "tenantctl: ".
//
// # Exit codes
//
//	0  success
//	1  the operation failed, in whole or in part (for example some
//	   schemas failed to migrate, or a statement failed in some tenants)
//	2  usage error: unknown command or flag, missing argument, no database
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

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
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
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

	// migrateBatch is how many schemas migrate hands to ApplyAll at once,
	// between progress reports; 0 means a default that depends on
	// --parallel. Tests set it.
	migrateBatch int
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
	{"migrate", "[--parallel N] [--tenant SLUG] [--plan] [--json]",
		"migrate the shared schema, then every tenant schema",
		`Migrate the shared schema, then every tenant schema (deleted tenants
included, so a restored tenant is up to date), N schemas at a time, each in
its own transaction. Prints SCHEMA<TAB>applied N or SCHEMA<TAB>FAILED: ERROR
per schema, then a summary; exits 1 if any schema failed. With --plan it
applies nothing and lists the tenant migrations that would run.`, (*cli).migrate},
	{"list-tenants", "[--all] [--json]",
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
over. Its schema and data stay.`, (*cli).deleteTenant},
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
	{"exec", `--sql "STATEMENT" [--parallel N] [--tenant SLUG]`,
		"run one SQL statement in every live tenant",
		`Run one SQL statement in every live tenant's schema (not the shared
schema), N tenants at a time, each in its own transaction. Prints, in
tenant order, SLUG<TAB>N rows affected, or for a statement that returns
rows one SLUG<TAB>VALUE<TAB>... line per row (NULL for null; tabs and
newlines escaped). Failures go to stderr, and exit 1.`, (*cli).exec},
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
  --database DSN        lib/pq DSN or postgres:// URL (default $DATABASE_URL)
  --shared-schema NAME  schema of tenantkit's shared tables (default public)
  --base-domain DOMAIN  base of primary domains (default $TENANTKIT_BASE_DOMAIN, else localhost)
  --migrations DIR      folder of the default tenant type's migrations

Exit codes:
  0  success
  1  the operation failed, in whole or in part (e.g. some schemas failed to migrate)
  2  usage error: unknown command or flag, missing argument, no database
`)
}

func (c *cli) commandUsage(cmd *command, fs *flag.FlagSet) {
	fmt.Fprintf(c.stdout, "usage: tenantctl %s %s [common flags]\n\n%s\n\nFlags (- or --):\n", cmd.name, cmd.args, cmd.doc)
	fs.SetOutput(c.stdout)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// common are the flags every command takes.
type common struct {
	database     string
	sharedSchema string
	baseDomain   string
	migrations   string
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
	return fs, &g
}

// parse parses args into fs. It prints cmd's help and returns
// flag.ErrHelp for -h/--help, and a usageError for a bad flag or an
// unexpected argument (unless positional is set).
func (c *cli) parse(cmd *command, fs *flag.FlagSet, args []string, positional bool) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		c.commandUsage(cmd, fs)
		return err
	}
	if err != nil {
		return usagef("%v", err)
	}
	if !positional && fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
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

// connect opens the database and builds a Manager from the common flags.
// Call the returned close function when done.
func (c *cli) connect(ctx context.Context, g *common) (*tenancy.Manager, func(), error) {
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
	opts := []tenancy.Option{tenancy.WithSharedSchema(g.sharedSchema), tenancy.WithBaseDomain(base)}
	if g.migrations != "" {
		if fi, err := os.Stat(g.migrations); err != nil || !fi.IsDir() {
			return nil, nil, usagef("--migrations %s: not a readable directory", g.migrations)
		}
		opts = append(opts, tenancy.WithTenantMigrations(os.DirFS(g.migrations)))
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
