package tenancy_test

import (
	"fmt"
	"testing"

	"github.com/tenantkit/tenantkit/internal/testkit"
	"github.com/tenantkit/tenantkit/tenancy"
)

// BenchmarkResolve measures Resolve: a cache hit (the steady state), with
// the host in canonical form and in a form that needs full normalisation,
// and a miss that goes to the database (cache off) as the baseline.
//
//	go test ./tenancy -run '^$' -bench Resolve -benchmem
func BenchmarkResolve(b *testing.B) {
	m, _, _ := testkit.CountingManager(b)
	ctx := b.Context()
	u, _ := m.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	for i := 0; i < 100; i++ {
		if _, _, err := m.Provision(ctx, "T", fmt.Sprintf("t%d", i), u.ID); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct{ name, host string }{
		{"hit", "t42.example.com"},
		{"hit-port", "t42.example.com:8080"},
		{"hit-uppercase", "T42.Example.COM."},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, err := m.Resolve(ctx, bc.host); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := m.Resolve(ctx, bc.host); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	nocache, _, _ := testkit.CountingManager(b, tenancy.WithResolveCache(0, 0, 0))
	nu, _ := nocache.Users().CreateUser(ctx, "alice@example.com", "pw", true)
	nocache.Provision(ctx, "T", "t42", nu.ID)
	b.Run("database", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := nocache.Resolve(ctx, "t42.example.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
