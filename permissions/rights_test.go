package permissions_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
)

func TestRegistryHasAppLabels(t *testing.T) {
	w := newWorld(t)
	if err := w.p.Register(w.acme, permissions.Permission{Codename: "billing.refund", Name: "Can refund", App: "ignored"}); err != nil {
		t.Fatal(err)
	}
	ps, err := w.p.Permissions(w.acme)
	if err != nil {
		t.Fatal(err)
	}
	want := "[{billing.refund Can refund billing} {notes.add Can add notes notes} {notes.view Can view notes notes}]"
	if got := fmt.Sprint(ps); got != want {
		t.Fatalf("Permissions = %s, want %s", got, want)
	}
}

func TestHasModulePerms(t *testing.T) {
	w := newWorld(t)
	if err := w.p.Grant(w.acme, w.reader.ID, "notes.view"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ctx  context.Context
		user int64
		app  string
		want bool
	}{
		{"superuser: any app", w.acme, w.owner.ID, "billing", true},
		{"member with a notes permission", w.acme, w.reader.ID, "notes", true},
		{"member without a billing permission", w.acme, w.reader.ID, "billing", false},
		{"prefix of an app is not the app", w.acme, w.reader.ID, "note", false},
		{"non-member", w.acme, w.outsider.ID, "notes", false},
		{"rights stay in their tenant", w.globex, w.reader.ID, "notes", false},
		{"superuser of another tenant", w.globex, w.owner.ID, "notes", false},
		{"codename is not an app", w.acme, w.owner.ID, "notes.view", false},
		{"upper case", w.acme, w.owner.ID, "Notes", false},
		{"empty", w.acme, w.owner.ID, "", false},
		{"injection", w.acme, w.owner.ID, "x' OR true --", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := w.p.HasModulePerms(tt.ctx, tt.user, tt.app)
			if err != nil || got != tt.want {
				t.Fatalf("HasModulePerms(%q) = %v, %v; want %v", tt.app, got, err, tt.want)
			}
		})
	}
	if _, err := w.p.HasModulePerms(context.Background(), w.owner.ID, "notes"); !errors.Is(err, permissions.ErrNoTenant) {
		t.Fatalf("without tenant: %v", err)
	}
}

func TestGroupUserAndAllPermissions(t *testing.T) {
	w := newWorld(t)
	if err := w.p.CreateGroup(w.acme, "readers", "notes.view"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.AddToGroup(w.acme, w.reader.ID, "readers"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.Grant(w.acme, w.reader.ID, "notes.add"); err != nil {
		t.Fatal(err)
	}
	type lists struct{ group, user, all string }
	tests := []struct {
		name string
		ctx  context.Context
		user int64
		want lists
	}{
		{"member", w.acme, w.reader.ID, lists{"[notes.view]", "[notes.add]", "[notes.add notes.view]"}},
		{"superuser gets every registered one", w.acme, w.owner.ID, lists{"[notes.add notes.view]", "[notes.add notes.view]", "[notes.add notes.view]"}},
		{"non-member", w.acme, w.outsider.ID, lists{"[]", "[]", "[]"}},
		{"another tenant", w.globex, w.reader.ID, lists{"[]", "[]", "[]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err1 := w.p.GroupPermissions(tt.ctx, tt.user)
			u, err2 := w.p.UserPermissions(tt.ctx, tt.user)
			a, err3 := w.p.AllPermissions(tt.ctx, tt.user)
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatal(err)
			}
			got := lists{fmt.Sprint(g), fmt.Sprint(u), fmt.Sprint(a)}
			if got != tt.want {
				t.Fatalf("group/user/all = %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, f := range []func(context.Context, int64) ([]string, error){w.p.GroupPermissions, w.p.UserPermissions, w.p.AllPermissions} {
		if _, err := f(context.Background(), w.owner.ID); !errors.Is(err, permissions.ErrNoTenant) {
			t.Errorf("without tenant: %v", err)
		}
	}
}

func TestGroups(t *testing.T) {
	w := newWorld(t)
	ctx := w.acme
	if err := w.p.CreateGroup(ctx, "writers", "notes.add"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.CreateGroup(ctx, "readers", "notes.view"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.AddToGroup(ctx, w.reader.ID, "writers"); err != nil {
		t.Fatal(err)
	}
	if err := w.p.SetGroupPermissions(ctx, "writers", "notes.view", "notes.add"); err != nil {
		t.Fatal(err)
	}
	gs, err := w.p.Groups(ctx)
	if got := fmt.Sprint(gs); err != nil || got != "[{readers [notes.view]} {writers [notes.add notes.view]}]" {
		t.Fatalf("Groups = %s, %v", got, err)
	}
	if !w.has(t, ctx, w.reader, "notes.view", "notes.add") {
		t.Fatal("new group permissions not held")
	}
	errs := []struct {
		name string
		err  error
		want error
	}{
		{"set perms of unknown group", w.p.SetGroupPermissions(ctx, "nope", "notes.view"), permissions.ErrUnknownGroup},
		{"set unknown perm", w.p.SetGroupPermissions(ctx, "writers", "billing.refund"), permissions.ErrUnknownPermission},
		{"set invalid perm", w.p.SetGroupPermissions(ctx, "writers", "bad"), permissions.ErrInvalidPermission},
		{"delete unknown group", w.p.DeleteGroup(ctx, "nope"), permissions.ErrUnknownGroup},
	}
	for _, e := range errs {
		if !errors.Is(e.err, e.want) {
			t.Errorf("%s: %v, want %v", e.name, e.err, e.want)
		}
	}
	// The failed SetGroupPermissions calls changed nothing.
	if !w.has(t, ctx, w.reader, "notes.view", "notes.add") {
		t.Fatal("a failed SetGroupPermissions changed the group")
	}
	if err := w.p.DeleteGroup(ctx, "writers"); err != nil {
		t.Fatal(err)
	}
	if w.has(t, ctx, w.reader, "notes.add") {
		t.Fatal("permission held through a deleted group")
	}
	if gs, _ := w.p.Groups(w.globex); len(gs) != 0 {
		t.Fatalf("acme's groups visible in globex: %v", gs)
	}
}

// TestRequestCacheSavesQueries counts the statements that checks send:
// within one request (a context from WithRequestCache) every check on the
// same tenant and user after the first costs nothing; another tenant is
// asked again and answered from its own schema; a write forgets.
func TestRequestCacheSavesQueries(t *testing.T) {
	t.Parallel()
	m, conn, _ := testkit.CountingManager(t)
	ctx := t.Context()
	owner, err := m.Users().CreateUser(ctx, "owner@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	member, err := m.Users().CreateUser(ctx, "member@example.com", "pw", true)
	if err != nil {
		t.Fatal(err)
	}
	acme, _, err := m.Provision(ctx, "Acme", "acme", owner.ID)
	if err != nil {
		t.Fatal(err)
	}
	globex, _, err := m.Provision(ctx, "Globex", "globex", member.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddUser(ctx, acme.ID, member.ID); err != nil {
		t.Fatal(err)
	}
	p := m.Permissions()
	checks := func(ctx context.Context, user int64) (answers []bool) {
		for _, perms := range [][]string{{"notes.view"}, {"notes.add"}, {"notes.view", "notes.add"}, nil} {
			ok, err := p.HasPerms(ctx, user, perms...)
			if err != nil {
				t.Fatal(err)
			}
			answers = append(answers, ok)
		}
		ok, err := p.HasModulePerms(ctx, user, "notes")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.AllPermissions(ctx, user); err != nil {
			t.Fatal(err)
		}
		return append(answers, ok)
	}
	statements := func(fn func()) int64 {
		before := conn.Statements()
		fn()
		return conn.Statements() - before
	}

	acmeCtx, globexCtx := tenancy.WithTenant(ctx, acme), tenancy.WithTenant(ctx, globex)
	if n := statements(func() { checks(acmeCtx, member.ID) }); n != 6 {
		t.Fatalf("without a request cache: %d statements for 6 checks, want 6", n)
	}

	req := permissions.WithRequestCache(ctx)
	if permissions.WithRequestCache(req) != req {
		t.Fatal("WithRequestCache on a context that has one made another")
	}
	reqAcme, reqGlobex := tenancy.WithTenant(req, acme), tenancy.WithTenant(req, globex)
	var acmeAnswers, globexAnswers []bool
	if n := statements(func() {
		acmeAnswers = checks(reqAcme, member.ID)
		checks(reqAcme, member.ID)
	}); n != 1 {
		t.Fatalf("with a request cache: %d statements for 12 checks, want 1", n)
	}
	if fmt.Sprint(acmeAnswers) != "[false false false true false]" {
		t.Fatalf("member in acme: %v", acmeAnswers)
	}
	// Same request, same user, another tenant: asked again, answered from
	// globex's schema (where the member is the owner).
	if n := statements(func() { globexAnswers = checks(reqGlobex, member.ID) }); n != 1 {
		t.Fatalf("another tenant: %d statements, want 1", n)
	}
	if fmt.Sprint(globexAnswers) != "[true true true true true]" {
		t.Fatalf("owner in globex: %v", globexAnswers)
	}
	// A grant through the store in this request is seen at once.
	if err := p.Grant(reqAcme, member.ID, "notes.view"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.HasPerm(reqAcme, member.ID, "notes.view"); !ok {
		t.Fatal("a grant in this request was not seen by the next check")
	}
	// A fresh request sees changes made elsewhere; the old one is not
	// reused (it dies with its request).
	if err := p.Revoke(acmeCtx, member.ID, "notes.view"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := p.HasPerm(tenancy.WithTenant(permissions.WithRequestCache(ctx), acme), member.ID, "notes.view"); ok {
		t.Fatal("a new request saw a revoked permission")
	}
	if ok, _ := p.HasPerm(globexCtx, owner.ID, "notes.view"); ok {
		t.Fatal("acme's owner has rights in globex")
	}
}
