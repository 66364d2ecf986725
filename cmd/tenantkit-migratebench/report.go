package main

import (
	"fmt"
	"io"
	"time"
)

// Targets.
const (
	minProvisionRate = 50.0  // tenants per second
	maxProvisionDrop = 0.25  // the last window's rate may be this much below the first's
	minMigrateRate   = 150.0 // schemas per second
	maxMemoryGrowth  = 0.25  // bytes allocated per schema, largest run against smallest
	maxHeapPerSchema = 2048  // peak heap growth per extra schema: a result and a target
)

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}

// checks returns each target's verdict, in print order.
func (r *report) checks() []check {
	var out []check
	if p := r.provision; p != nil {
		out = append(out,
			check{fmt.Sprintf("provision >= %.0f tenants/s", minProvisionRate), fmt.Sprintf("%.1f/s", p.perSecond), p.perSecond >= minProvisionRate},
			check{fmt.Sprintf("last %d within %.0f%% of first %d", p.window, 100*maxProvisionDrop, p.window),
				fmt.Sprintf("%.1f/s vs %.1f/s (%+.0f%%)", p.lastRte, p.firstRate, 100*(p.lastRte/p.firstRate-1)),
				p.lastRte >= (1-maxProvisionDrop)*p.firstRate})
		// The same against the baseline of each window, which takes out
		// what other work on the machine did meanwhile.
		firstRatio, lastRatio := p.medFirst.Seconds()/p.rawFirst.Seconds(), p.medLast.Seconds()/p.rawLast.Seconds()
		out = append(out, check{"the same, against the baseline of each window (load-adjusted)",
			fmt.Sprintf("%.2fx vs %.2fx (%+.0f%%)", lastRatio, firstRatio, 100*(lastRatio/firstRatio-1)),
			lastRatio <= firstRatio/(1-maxProvisionDrop)})
	}
	for _, m := range r.migrate {
		out = append(out, check{fmt.Sprintf("migrate with %d workers >= %.0f schemas/s", m.workers, minMigrateRate),
			fmt.Sprintf("%.1f/s", m.perSecond), m.perSecond >= minMigrateRate})
	}
	if len(r.memory) >= 2 {
		lo, hi := r.memory[0], r.memory[len(r.memory)-1]
		for _, m := range r.memory {
			if m.schemas < lo.schemas {
				lo = m
			}
			if m.schemas > hi.schemas {
				hi = m
			}
		}
		bytesGrowth := hi.bytesPerSchema/lo.bytesPerSchema - 1
		perExtra := (float64(hi.peakLive) - float64(lo.peakLive)) / float64(max(hi.schemas-lo.schemas, 1))
		out = append(out,
			check{fmt.Sprintf("bytes allocated per schema flat (%d vs %d schemas, within %.0f%%)", hi.schemas, lo.schemas, 100*maxMemoryGrowth),
				fmt.Sprintf("%+.0f%%", 100*bytesGrowth), bytesGrowth <= maxMemoryGrowth},
			check{fmt.Sprintf("peak live heap grows at most %d bytes per extra schema (%d vs %d schemas)", maxHeapPerSchema, hi.schemas, lo.schemas),
				fmt.Sprintf("%.0f bytes", perExtra), perExtra <= maxHeapPerSchema})
	}
	return out
}

type check struct {
	target, got string
	ok          bool
}

// print writes the figures as markdown tables.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nmachine: %s\n", r.machine)
	if p := r.provision; p != nil {
		fmt.Fprintf(w, "\n| provisioning, 10 tables per tenant | tenants | time | tenants/s |\n| --- | ---: | ---: | ---: |\n")
		fmt.Fprintf(w, "| all, one after another | %d | %v | %.1f |\n", p.n, p.total.Round(time.Millisecond), p.perSecond)
		fmt.Fprintf(w, "| first %d | %d | %v | %.1f |\n", p.window, p.window, p.first.Round(time.Millisecond), p.firstRate)
		fmt.Fprintf(w, "| last %d | %d | %v | %.1f |\n", p.window, p.window, p.last.Round(time.Millisecond), p.lastRte)
		fmt.Fprintf(w, "\nOne Provision: p50 %v, p99 %v, max %v; %d took over 10x the median",
			p.p50.Round(10*time.Microsecond), p.p99.Round(10*time.Microsecond), p.max.Round(time.Millisecond), len(p.stalls))
		for i, s := range p.stalls {
			if i == 10 {
				fmt.Fprintf(w, " ...")
				break
			}
			fmt.Fprintf(w, " (#%d: %v)", s.i, s.d.Round(time.Millisecond))
		}
		fmt.Fprintln(w, ".")
		fmt.Fprintf(w, "\n| median time of one | Provision | baseline: the 10 tables alone, no tenantkit | ratio |\n| --- | ---: | ---: | ---: |\n")
		fmt.Fprintf(w, "| first %d (baseline right before) | %v | %v | %.2fx |\n", p.window, p.medFirst.Round(10*time.Microsecond),
			p.rawFirst.Round(10*time.Microsecond), p.medFirst.Seconds()/p.rawFirst.Seconds())
		fmt.Fprintf(w, "| last %d (baseline right after) | %v | %v | %.2fx |\n", p.window, p.medLast.Round(10*time.Microsecond),
			p.rawLast.Round(10*time.Microsecond), p.medLast.Seconds()/p.rawLast.Seconds())
	}
	if len(r.migrate) > 0 {
		fmt.Fprintf(w, "\n| migrate all: add a column and an index | schemas | workers | time | schemas/s |\n| --- | ---: | ---: | ---: | ---: |\n")
		for _, m := range r.migrate {
			fmt.Fprintf(w, "| Manager.Migrate | %d | %d | %v | %.1f |\n", m.schemas, m.workers, m.total.Round(time.Millisecond), m.perSecond)
		}
	}
	if len(r.memory) > 0 {
		fmt.Fprintf(w, "\n| migrator memory | schemas | allocs/schema | bytes/schema | peak live heap (above start) | peak heap in use | held after (results) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, m := range r.memory {
			fmt.Fprintf(w, "| Migrator.Run | %d | %.0f | %.0f | %s | %s | %s |\n", m.schemas, m.allocsPerSchema, m.bytesPerSchema, kib(m.peakLive), kib(m.peakHeapInuse), kib(m.heldAfter))
		}
	}
	if cs := r.checks(); len(cs) > 0 {
		fmt.Fprintf(w, "\n| target | measured | |\n| --- | ---: | --- |\n")
		for _, c := range cs {
			fmt.Fprintf(w, "| %s | %s | %s |\n", c.target, c.got, verdict(c.ok))
		}
	}
}

func kib(b uint64) string { return fmt.Sprintf("%.0f KiB", float64(b)/(1<<10)) }
