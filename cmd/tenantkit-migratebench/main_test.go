package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/tenantkit/tenantkit/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // in the error; empty for none
	}{
		{"defaults", nil, ""},
		{"quick", []string{"-provision", "10", "-window", "5", "-tenants", "20", "-mem", "5,20", "-workers", "1,2"}, ""},
		{"window too big", []string{"-provision", "10", "-window", "6"}, "-window 6"},
		{"window zero", []string{"-window", "0"}, "-window 0"},
		{"no provisioning, any window", []string{"-provision", "0", "-window", "0"}, ""},
		{"negative tenants", []string{"-tenants", "-1"}, "must not be negative"},
		{"mem above tenants", []string{"-tenants", "100", "-mem", "50,200"}, "-mem 200"},
		{"no migrate runs, any mem", []string{"-tenants", "0"}, ""},
		{"bad workers", []string{"-workers", "1,x"}, `"x" is not a positive integer`},
		{"zero workers", []string{"-workers", "0"}, `"0" is not a positive integer`},
		{"zero create workers", []string{"-create-workers", "0"}, "-create-workers"},
		{"stray argument", []string{"extra"}, `unexpected argument "extra"`},
		{"unknown flag", []string{"-frob"}, "-frob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("parseFlags(%q) = %v, want an error holding %q", tt.args, err, tt.want)
			}
		})
	}
}

// TestQuickRun runs the whole program with small counts on the test
// cluster and checks that every table and verdict is printed. The
// figures themselves are the benchmark's business, not the test's.
func TestQuickRun(t *testing.T) {
	t.Setenv("DATABASE_URL", pgtest.NewDatabase(t))
	cfg, err := parseFlags([]string{"-provision", "6", "-window", "3", "-tenants", "8", "-mem", "4,8", "-workers", "1,2", "-create-workers", "2"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\| all, one after another \| 6 \| \S+ \| [0-9.]+ \|`),
		regexp.MustCompile(`\| last 3 \(baseline right after\) \| \S+ \| \S+ \| [0-9.]+x \|`),
		regexp.MustCompile(`\| Manager\.Migrate \| 8 \| 1 \| \S+ \| [0-9.]+ \|`),
		regexp.MustCompile(`\| Manager\.Migrate \| 8 \| 2 \|`),
		regexp.MustCompile(`\| Migrator\.Run \| 4 \| [0-9]+ \| [0-9]+ \|`),
		regexp.MustCompile(`\| Migrator\.Run \| 8 \|`),
		regexp.MustCompile(`\| provision >= 50 tenants/s \| [0-9.]+/s \| (met|MISSED) \|`),
		regexp.MustCompile(`\| migrate with 2 workers >= 150 schemas/s \| [0-9.]+/s \| (met|MISSED) \|`),
		regexp.MustCompile(`\| peak live heap grows at most 2048 bytes per extra schema \(8 vs 4 schemas\) \| -?[0-9]+ bytes \| (met|MISSED) \|`),
	} {
		if !want.Match(out.Bytes()) {
			t.Errorf("report lacks %v:\n%s", want, out.String())
		}
	}
	// A second run on the same database refuses rather than mixing in
	// tenants it did not create.
	if _, err := run(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "already holds tenants") {
		t.Errorf("second run: %v, want a refusal", err)
	}
}
