package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/tenantkit/tenantkit/tenancy"
	"github.com/tenantkit/tenantkit/users"
)

func (c *cli) createUser(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	email := fs.String("email", "", "the user's `email`, which is its username")
	password := fs.String("password", "", "the user's `password` (visible to other local users: prefer --password-stdin)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	super := fs.Bool("superuser", false, "make the user a global superuser (an operator of the whole installation)")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"email", *email}); err != nil {
		return err
	}
	if *fromStdin {
		if *password != "" {
			return usagef("give --password or --password-stdin, not both")
		}
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("read the password from standard input: %w", err)
		}
		*password = strings.TrimRight(line, "\r\n")
		if *password == "" {
			return usagef("--password-stdin: empty password")
		}
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	var u *users.User
	if *super {
		u, err = mgr.Users().CreateSuperuser(ctx, *email, *password)
	} else {
		u, err = mgr.Users().CreateUser(ctx, *email, *password, true)
	}
	if err != nil {
		return err
	}
	return c.emit(g, userOut{ID: u.ID, Email: u.Email}, fmt.Sprintln(u.ID))
}

func (c *cli) deleteUser(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	email := fs.String("email", "", "`email` of the user to delete")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := required([2]string{"email", *email}); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	u, err := mgr.Users().ByEmail(ctx, *email)
	if err != nil {
		return err
	}
	if err := mgr.DeleteUser(ctx, u.ID); err != nil {
		return err
	}
	return c.emit(g, userOut{ID: u.ID, Email: u.Email}, fmt.Sprintf("deleted user %s (id %d) and the tenants it owned\n", u.Email, u.ID))
}

// membership holds what add-user, remove-user and grant share: a tenant
// by slug and a user by email.
type membership struct {
	slug, email *string
}

func membershipFlags(fs *flag.FlagSet) membership {
	return membership{
		slug:  fs.String("slug", "", "the live tenant's `slug`"),
		email: fs.String("email", "", "the user's `email`"),
	}
}

// resolve loads the tenant and the user.
func (m membership) resolve(ctx context.Context, mgr *tenancy.Manager) (*tenancy.Tenant, *users.User, error) {
	t, err := mgr.BySlug(ctx, *m.slug)
	if err != nil {
		return nil, nil, err
	}
	u, err := mgr.Users().ByEmail(ctx, *m.email)
	if err != nil {
		return nil, nil, err
	}
	return t, u, nil
}

func (m membership) required() error {
	return required([2]string{"slug", *m.slug}, [2]string{"email", *m.email})
}

func (c *cli) addUser(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	m := membershipFlags(fs)
	super := fs.Bool("superuser", false, "make the user the tenant's superuser (every permission there)")
	staff := fs.Bool("staff", false, "give the user the tenant's staff flag")
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := m.required(); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, u, err := m.resolve(ctx, mgr)
	if err != nil {
		return err
	}
	var opts []tenancy.MemberOption
	if *super {
		opts = append(opts, tenancy.AsSuperuser())
	}
	if *staff {
		opts = append(opts, tenancy.AsStaff())
	}
	if err := mgr.AddUser(ctx, t.ID, u.ID, opts...); err != nil {
		return err
	}
	return c.emit(g, memberOut{Tenant: t.Slug, Email: u.Email, UserID: u.ID}, fmt.Sprintf("added %s to %s\n", u.Email, t.Slug))
}

func (c *cli) removeUser(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	m := membershipFlags(fs)
	if err := c.parse(cmd, fs, args, false); err != nil {
		return err
	}
	if err := m.required(); err != nil {
		return err
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, u, err := m.resolve(ctx, mgr)
	if err != nil {
		return err
	}
	if err := mgr.RemoveUser(ctx, t.ID, u.ID); err != nil {
		return err
	}
	return c.emit(g, memberOut{Tenant: t.Slug, Email: u.Email, UserID: u.ID}, fmt.Sprintf("removed %s from %s\n", u.Email, t.Slug))
}

func (c *cli) grant(ctx context.Context, cmd *command, args []string) error {
	fs, g := c.flagSet(cmd)
	m := membershipFlags(fs)
	if err := c.parse(cmd, fs, args, true); err != nil {
		return err
	}
	if err := m.required(); err != nil {
		return err
	}
	perms := c.args
	if len(perms) == 0 {
		return usagef("name at least one permission, such as notes.add, after the flags")
	}
	mgr, closeDB, err := c.connect(ctx, g)
	if err != nil {
		return err
	}
	defer closeDB()
	t, u, err := m.resolve(ctx, mgr)
	if err != nil {
		return err
	}
	if err := mgr.Permissions().Grant(tenancy.WithTenant(ctx, t), u.ID, perms...); err != nil {
		return err
	}
	return c.emit(g, memberOut{Tenant: t.Slug, Email: u.Email, UserID: u.ID, Permissions: perms},
		fmt.Sprintf("granted %s to %s in %s\n", strings.Join(perms, ", "), u.Email, t.Slug))
}

// userOut is the --json output of create-user and delete-user.
type userOut struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
}

// memberOut is the --json output of add-user, remove-user and grant.
type memberOut struct {
	Tenant      string   `json:"tenant"`
	Email       string   `json:"email"`
	UserID      int64    `json:"user_id"`
	Permissions []string `json:"permissions,omitempty"`
}
