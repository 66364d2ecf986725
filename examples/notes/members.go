package main

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tenantkit/tenantkit/permissions"
	"github.com/tenantkit/tenantkit/tenancy"
)

// permManage is the permission the members page needs. The tenant's
// owner, its superuser, holds it like every other; migrations/0002
// registers it so that it can be granted to others too.
const permManage = "members.manage"

// memberView is a row of the members page.
type memberView struct {
	tenancy.Member
	Groups      []string // the groups the member is in
	Direct      []string // permissions granted directly
	OtherGroups []string // groups the member could join
	OtherPerms  []string // permissions the member could be granted
}

// membersPage lists the tenant's members with their groups and
// permissions, and the forms that change them.
func (a *app) membersPage(w http.ResponseWriter, r *http.Request) {
	a.renderMembers(w, r, http.StatusOK, "")
}

func (a *app) renderMembers(w http.ResponseWriter, r *http.Request, status int, msg string) {
	ctx := r.Context()
	p, err := a.newPage(w, r, "")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p.Title, p.Error = p.Tenant.Name+" members", msg
	p.Notice = noticeText(r.URL.Query().Get("notice"))
	ps := a.mgr.Permissions()
	members, err := a.mgr.Members(ctx, p.Tenant)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if p.Groups, err = ps.Groups(ctx); err != nil {
		a.fail(w, r, err)
		return
	}
	if p.Perms, err = ps.Permissions(ctx); err != nil {
		a.fail(w, r, err)
		return
	}
	for _, m := range members {
		v := memberView{Member: m}
		if v.Groups, err = ps.UserGroups(ctx, m.UserID); err != nil {
			a.fail(w, r, err)
			return
		}
		if v.Direct, err = ps.UserPermissions(ctx, m.UserID); err != nil {
			a.fail(w, r, err)
			return
		}
		for _, g := range p.Groups {
			if !slices.Contains(v.Groups, g.Name) {
				v.OtherGroups = append(v.OtherGroups, g.Name)
			}
		}
		for _, perm := range p.Perms {
			if !slices.Contains(v.Direct, perm.Codename) {
				v.OtherPerms = append(v.OtherPerms, perm.Codename)
			}
		}
		p.Members = append(p.Members, v)
	}
	a.render(w, r, status, "members.html", p)
}

// memberAction handles the members page's forms: each does one change,
// in one transaction, then goes back to the page. Bad input gets the page
// again with a short message and a 4xx status.
func (a *app) memberAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	t, _ := tenancy.TenantFromContext(ctx) // middleware.Tenant ensures one
	ps := a.mgr.Permissions()
	var userID int64
	if s := r.PostFormValue("user"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			a.renderMembers(w, r, http.StatusBadRequest, "No such member.")
			return
		}
		userID = id
	}
	notice := ""
	var err error
	switch r.PostFormValue("action") {
	case "add":
		u, uerr := a.mgr.Users().ByEmail(ctx, r.PostFormValue("email"))
		if err = uerr; err == nil {
			err = a.mgr.AddUser(ctx, t.ID, u.ID)
			notice = "added"
		}
	case "remove":
		err = a.mgr.RemoveUser(ctx, t.ID, userID)
	case "join":
		err = ps.AddToGroup(ctx, userID, r.PostFormValue("group"))
	case "leave":
		err = ps.RemoveFromGroup(ctx, userID, r.PostFormValue("group"))
	case "grant":
		err = ps.Grant(ctx, userID, r.PostFormValue("perm"))
	case "revoke":
		err = ps.Revoke(ctx, userID, r.PostFormValue("perm"))
	case "group":
		name := strings.TrimSpace(r.PostFormValue("name"))
		if name == "" || utf8.RuneCountInString(name) > 50 || !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
			a.renderMembers(w, r, http.StatusBadRequest, "A group needs a name of at most 50 characters.")
			return
		}
		err = ps.CreateGroup(ctx, name, r.PostForm["perms"]...)
	default:
		a.renderMembers(w, r, http.StatusBadRequest, "Unknown action.")
		return
	}
	if err != nil {
		if status, msg := memberError(err); status != 0 {
			a.renderMembers(w, r, status, msg)
			return
		}
		a.fail(w, r, err)
		return
	}
	to := "/members"
	if notice != "" {
		to += "?notice=" + notice
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// memberError is the status and message for an error of a member action
// caused by the input, or 0 for an internal one.
func memberError(err error) (int, string) {
	switch {
	case errors.Is(err, tenancy.ErrUserNotFound):
		return http.StatusNotFound, "No user has this email: ask them to sign up first."
	case errors.Is(err, tenancy.ErrUserInactive):
		return http.StatusBadRequest, "This user's account is inactive."
	case errors.Is(err, tenancy.ErrAlreadyMember):
		return http.StatusConflict, "Already a member."
	case errors.Is(err, tenancy.ErrNotMember), errors.Is(err, permissions.ErrNotMember):
		return http.StatusNotFound, "No such member."
	case errors.Is(err, tenancy.ErrCannotRemoveOwner):
		return http.StatusBadRequest, "The owner cannot be removed."
	case errors.Is(err, permissions.ErrUnknownGroup):
		return http.StatusBadRequest, "No such group."
	case errors.Is(err, permissions.ErrUnknownPermission), errors.Is(err, permissions.ErrInvalidPermission):
		return http.StatusBadRequest, "No such permission."
	case errors.Is(err, permissions.ErrGroupExists):
		return http.StatusConflict, "A group has this name."
	}
	return 0, ""
}
