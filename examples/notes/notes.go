package main

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jmoiron/sqlx"
)

// note is a row of the tenant's notes table.
type note struct {
	ID        int64     `db:"id" json:"id"`
	Body      string    `db:"body" json:"body"`
	AuthorID  int64     `db:"author_id" json:"author_id"`
	CreatedAt time.Time `db:"created_at" json:"created_at"`
}

const maxNoteLen = 4000 // bytes

// checkBody trims a note's body and checks it, returning a short message
// for the client when it is not acceptable.
func checkBody(body string) (string, error) {
	body = strings.TrimSpace(body)
	switch {
	case body == "":
		return "", errors.New("body is required")
	case len(body) > maxNoteLen:
		return "", errors.New("body is too long")
	case !utf8.ValidString(body) || strings.ContainsRune(body, 0):
		return "", errors.New("body is not valid text")
	}
	return body, nil
}

// The queries below run through Manager.DB().Tx: a transaction whose
// search_path is the schema of the tenant in ctx (set by middleware.Tenant),
// so "notes" is that tenant's table and nobody else's.

// listNotes returns the newest notes of the tenant in ctx.
func (a *app) listNotes(ctx context.Context) ([]note, error) {
	notes := []note{}
	err := a.mgr.DB().Tx(ctx, func(tx *sqlx.Tx) error {
		return tx.SelectContext(ctx, &notes, `SELECT id, body, author_id, created_at FROM notes ORDER BY id DESC LIMIT 100`)
	})
	return notes, err
}

// addNote stores a note in the tenant in ctx. body must have passed
// checkBody.
func (a *app) addNote(ctx context.Context, authorID int64, body string) (*note, error) {
	var n note
	err := a.mgr.DB().Tx(ctx, func(tx *sqlx.Tx) error {
		return tx.GetContext(ctx, &n, `INSERT INTO notes (body, author_id) VALUES ($1, $2)
			RETURNING id, body, author_id, created_at`, body, authorID)
	})
	if err != nil {
		return nil, err
	}
	return &n, nil
}
