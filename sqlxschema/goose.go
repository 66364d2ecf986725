package sqlxschema

import (
	"fmt"
	"strings"
)

// gooseUp returns the SQL of a migration file that tenantkit runs: the
// whole file, or for a file with goose annotations ("-- +goose Up") its Up
// section alone. The annotations are SQL comments, so the Up section runs
// as written: the whole section is sent to PostgreSQL at once, whose parser
// already keeps dollar-quoted bodies together, so StatementBegin/End blocks
// need no splitting; they are checked for balance and otherwise ignored.
//
// Refused, with an *AnnotationError: NO TRANSACTION (ErrNoTransaction), an
// annotation tenantkit does not know (envsub, for one), SQL before the Up
// annotation, a second Up or Down, Up after Down, and an unbalanced
// StatementBegin/End.
func gooseUp(set, file, body string) (string, error) {
	if !strings.Contains(body, "+goose") {
		return body, nil
	}
	fail := func(line int, format string, args ...any) (string, error) {
		return "", &AnnotationError{Set: set, File: file, Line: line,
			Err: fmt.Errorf("%w: %s", ErrAnnotation, fmt.Sprintf(format, args...))}
	}
	const (
		before = iota
		up
		down
	)
	lines := strings.SplitAfter(body, "\n")
	annotated := false
	for _, raw := range lines {
		if _, ok := annotation(strings.TrimSpace(raw)); ok {
			annotated = true
			break
		}
	}
	if !annotated {
		return body, nil // "+goose" appeared in SQL or a plain comment
	}
	section := before
	var out strings.Builder
	upLine, inBlock := 0, 0
	for i, raw := range lines {
		n := i + 1
		text := strings.TrimSpace(raw)
		word, ok := annotation(text)
		if !ok {
			switch section {
			case before:
				if text != "" && !strings.HasPrefix(text, "--") {
					return fail(n, "SQL before \"-- +goose Up\"")
				}
			case up:
				out.WriteString(raw)
			}
			continue
		}
		switch strings.ToLower(word) {
		case "up":
			if section != before {
				return fail(n, "a second \"-- +goose Up\", or Up after Down")
			}
			section, upLine = up, n
		case "down":
			if section != up {
				return fail(n, "\"-- +goose Down\" before \"-- +goose Up\", or twice")
			}
			if inBlock > 0 {
				return fail(inBlock, "StatementBegin without StatementEnd")
			}
			section = down
		case "statementbegin":
			if section == before {
				return fail(n, "StatementBegin before \"-- +goose Up\"")
			}
			if inBlock > 0 {
				return fail(n, "StatementBegin inside a StatementBegin block")
			}
			inBlock = n
		case "statementend":
			if inBlock == 0 {
				return fail(n, "StatementEnd without StatementBegin")
			}
			inBlock = 0
		case "no transaction":
			return "", &AnnotationError{Set: set, File: file, Line: n, Err: ErrNoTransaction}
		default:
			return fail(n, "unsupported annotation %q", "+goose "+word)
		}
	}
	if inBlock > 0 {
		return fail(inBlock, "StatementBegin without StatementEnd")
	}
	if upLine == 0 {
		return fail(0, "goose annotations but no \"-- +goose Up\"")
	}
	return out.String(), nil
}

// annotation reports whether line is a goose annotation ("-- +goose Up")
// and returns its words after "+goose", spaces collapsed.
func annotation(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "--")
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "+goose")
	if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	return strings.Join(strings.Fields(rest), " "), true
}
