package sqlxschema

import "testing"

func TestTextTxOpen(t *testing.T) {
	for _, tc := range []struct {
		query      string
		before, is bool
	}{
		{"BEGIN", false, true},
		{"  start transaction isolation level serializable", false, true},
		{"SELECT 1; BEGIN", false, true},
		{"INSERT INTO t VALUES (1)", true, true},
		{"COMMIT", true, false},
		{"end", true, false},
		{"ABORT", true, false},
		{"ROLLBACK", true, false},
		{"ROLLBACK TO SAVEPOINT a", true, true},
		{"rollback to a", true, true},
		{"PREPARE TRANSACTION 'x'", true, false},
		{"PREPARE q AS SELECT 1", true, true},
		{"BEGIN; INSERT INTO t VALUES (1); COMMIT", false, false},
		{"SELECT 'a; begin x'", false, true},                   // a literal's BEGIN: seen, the safe side
		{"BEGIN; SELECT 'a; commit x'", false, true},           // a literal's COMMIT: not believed
		{"INSERT INTO t VALUES ('x; rollback y')", true, true}, // nor a ROLLBACK
		{"SELECT beginning FROM t", false, false},
		{"", true, true},
	} {
		if got := textTxOpen(tc.query, tc.before); got != tc.is {
			t.Errorf("textTxOpen(%q, %v) = %v, want %v", tc.query, tc.before, got, tc.is)
		}
	}
	if n := testing.AllocsPerRun(100, func() { textTxOpen("SELECT id, body FROM items WHERE id <= $1 ORDER BY id", false) }); n != 0 {
		t.Errorf("textTxOpen allocates %v times per statement", n)
	}
}
