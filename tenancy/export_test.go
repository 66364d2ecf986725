package tenancy

// CacheLen exposes the resolve cache's size to tests.
func CacheLen(m *Manager) int {
	if m.cache == nil {
		return 0
	}
	return m.cache.len()
}

// FastHost exposes fastHost to tests.
var FastHost = fastHost
