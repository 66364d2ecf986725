package sqlxschema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

func TestParseSchema(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"simple", "acme", true},
		{"underscore and digits", "acme_2024_x", true},
		{"leading underscore", "_acme", true},
		{"public is a valid schema", "public", true},
		{"max length", strings.Repeat("a", 63), true},
		{"empty", "", false},
		{"too long", strings.Repeat("a", 64), false},
		{"upper case", "Acme", false},
		{"hyphen", "acme-corp", false},
		{"leading digit", "1acme", false},
		{"pg prefix", "pg_temp", false},
		{"information_schema", "information_schema", false},
		{"quote injection", `acme"; DROP SCHEMA public; --`, false},
		{"space", "acme corp", false},
		{"dot", "acme.notes", false},
		{"unicode", "acmé", false},
		{"NUL", "acme\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlxschema.ParseSchema(tt.in)
			if tt.ok {
				if err != nil {
					t.Fatalf("ParseSchema(%q) = %v, want ok", tt.in, err)
				}
				if s.String() != tt.in || s.Quoted() != `"`+tt.in+`"` {
					t.Fatalf("ParseSchema(%q) = %q / %s", tt.in, s, s.Quoted())
				}
				return
			}
			if !errors.Is(err, sqlxschema.ErrInvalidSchema) {
				t.Fatalf("ParseSchema(%q) = %v, want ErrInvalidSchema", tt.in, err)
			}
			var ise *sqlxschema.InvalidSchemaError
			if !errors.As(err, &ise) || ise.Name != tt.in || ise.Reason == "" {
				t.Fatalf("ParseSchema(%q) error %#v lacks detail", tt.in, err)
			}
		})
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plan", `"plan"`},
		{`we"ird`, `"we""ird"`},
		{`"; DROP TABLE x; --`, `"""; DROP TABLE x; --"`},
		{"nul\x00byte", `"nulbyte"`},
	}
	for _, tt := range tests {
		if got := sqlxschema.QuoteIdent(tt.in); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestMustSchemaPanicsOnInvalid(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MustSchema(\"Bad-Name\") did not panic")
		}
	}()
	sqlxschema.MustSchema("Bad-Name")
}
