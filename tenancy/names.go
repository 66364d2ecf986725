package tenancy

import (
	"crypto/rand"
	"fmt"
	"net"
	"regexp"
	"strings"

	"golang.org/x/net/idna"

	"github.com/tenantkit/tenantkit/sqlxschema"
)

var slugRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$`)

// DefaultReservedSlugs can never be provisioned unless WithReservedSlugs
// replaces the list.
var DefaultReservedSlugs = []string{"www", "admin", "api", "app", "public", "static", "assets", "mail", "smtp", "ftp", "localhost", "root", "status", "docs", "help", "support"}

// ValidateSlug checks that slug can be a tenant's slug and a DNS label:
// 1 to 63 lower-case letters, digits and hyphens, not starting or ending
// with a hyphen, and without hyphens in its third and fourth places, which
// IDNA keeps for encoded labels ("xn--"): such a label is either not a
// valid host name or the encoding of another, look-alike name.
func ValidateSlug(slug string) error {
	if !slugRE.MatchString(slug) {
		return fmt.Errorf("%w %q: use 1 to 63 lower-case letters, digits and inner hyphens", ErrInvalidSlug, slug)
	}
	if len(slug) >= 4 && slug[2:4] == "--" {
		return fmt.Errorf("%w %q: hyphens in the third and fourth places are kept for encoded names (xn--)", ErrInvalidSlug, slug)
	}
	return nil
}

const schemaAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// schemaForSlug makes a schema name from a valid slug: the slug with "_"
// for "-", "t_" in front when it starts with a digit, cut to leave room for
// a random 8-character suffix, so names never collide even across deleted
// tenants with one slug.
func schemaForSlug(slug string) (sqlxschema.Schema, error) {
	base := strings.ReplaceAll(slug, "-", "_")
	if base[0] >= '0' && base[0] <= '9' {
		base = "t_" + base
	}
	if len(base) > sqlxschema.MaxIdentLen-9 {
		base = base[:sqlxschema.MaxIdentLen-9]
	}
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return sqlxschema.Schema{}, err
	}
	for i, b := range suffix {
		suffix[i] = schemaAlphabet[int(b)%len(schemaAlphabet)]
	}
	return sqlxschema.ParseSchema(base + "_" + string(suffix))
}

var hostProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(), idna.ValidateLabels(true), idna.StrictDomainName(true))

// NormalizeHost turns a Host header value into the form domains are stored
// in: port and one trailing dot removed, lower case, IDNA ASCII (punycode)
// form. It returns ErrInvalidHost for anything that is not a domain name
// of at most 253 bytes with labels of 1 to 63 letters, digits and hyphens.
// IP addresses normalise (IPv6 in brackets) and simply match no domain.
func NormalizeHost(host string) (string, error) {
	if host == "" || len(host) > 300 {
		return "", fmt.Errorf("%w: empty or too long", ErrInvalidHost)
	}
	if strings.HasPrefix(host, "[") {
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			h = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		}
		ip := net.ParseIP(h)
		if ip == nil || ip.To4() != nil {
			return "", fmt.Errorf("%w: bad IPv6 literal", ErrInvalidHost)
		}
		return "[" + ip.String() + "]", nil
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		port := host[i+1:]
		if len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return "", fmt.Errorf("%w: bad port", ErrInvalidHost)
		}
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidHost)
	}
	ascii, err := hostProfile.ToASCII(host)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidHost, err)
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > 253 {
		return "", fmt.Errorf("%w: longer than 253 bytes", ErrInvalidHost)
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" || len(label) > 63 {
			return "", fmt.Errorf("%w: empty or over-long label", ErrInvalidHost)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%w: character %q", ErrInvalidHost, c)
			}
		}
	}
	return ascii, nil
}
