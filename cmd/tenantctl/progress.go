package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress reports how far a long run is, on standard error: on a
// terminal a bar rewritten in place (counts, percentage, rate, time left,
// failures), at most every tick; otherwise a plain line every tenth of
// the run and at its end. Its methods are called one at a time.
type progress struct {
	w      io.Writer
	tty    bool
	width  int // the terminal's columns
	label  string
	total  int
	now    func() time.Time
	start  time.Time
	last   time.Time // of the last bar drawn
	step   int       // plain mode: a line every step items
	next   int       // plain mode: the count of the next line
	done   int
	failed int
	shown  bool // a bar is on the screen
	// sameTTY: result lines written to stdout land on the bar's terminal,
	// so the bar is cleared before them and drawn again after.
	sameTTY bool
}

// tick is the shortest time between two bars.
const tick = 100 * time.Millisecond

// newProgress returns a progress report for total items, on c's stderr.
// It reports nothing for an empty run.
func (c *cli) newProgress(label string, total int) *progress {
	now := c.now
	if now == nil {
		now = time.Now
	}
	p := &progress{w: c.stderr, label: label, total: total, now: now, start: now(), width: 80}
	if f, ok := c.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			p.width = w
		}
		p.sameTTY = isTerminal(c.stdout)
	}
	p.step = max(1, (total+9)/10)
	p.next = p.step
	return p
}

// update records done items (finished or passed over) of which failed
// failed, and reports them when it is time.
func (p *progress) update(done, failed int) {
	if p.total == 0 {
		return
	}
	p.done, p.failed = done, failed
	if !p.tty {
		if done >= p.next || done == p.total {
			for p.next <= done {
				p.next += p.step
			}
			fmt.Fprintf(p.w, "progress: %s\n", p.status())
		}
		return
	}
	if now := p.now(); done == p.total || now.Sub(p.last) >= tick {
		p.last = now
		p.draw()
	}
}

// println writes line to w (standard output) without garbling the bar.
func (p *progress) println(w io.Writer, line string) {
	if p.shown && p.sameTTY {
		fmt.Fprint(p.w, "\r\x1b[K")
		fmt.Fprintln(w, line)
		p.draw()
		return
	}
	fmt.Fprintln(w, line)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.shown {
		p.draw()
		fmt.Fprintln(p.w)
		p.shown = false
	}
}

// status is "N/T items (P%), F failed, R/s[, ETA d]".
func (p *progress) status() string {
	elapsed := p.now().Sub(p.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed.Seconds()
	}
	s := fmt.Sprintf("%d/%d %s (%d%%), %d failed, %.1f/s", p.done, p.total, p.noun(), 100*p.done/p.total, p.failed, rate)
	if rate > 0 && p.done < p.total {
		eta := time.Duration(float64(p.total-p.done) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

func (p *progress) noun() string {
	return plural(p.total, "schema", "schemas")
}

// draw rewrites the bar: "label [#####.....] status", cut to the width.
func (p *progress) draw() {
	status := p.status()
	bar := max(10, min(40, p.width-len(p.label)-len(status)-5))
	filled := bar * p.done / p.total
	line := fmt.Sprintf("%s [%s%s] %s", p.label, strings.Repeat("#", filled), strings.Repeat(".", bar-filled), status)
	if len(line) > p.width-1 {
		line = line[:max(0, p.width-1)]
	}
	fmt.Fprint(p.w, "\r\x1b[K"+line)
	p.shown = true
}
