package image

import (
	"net"
	"net/netip"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// mirrorOf is the mirror of r's registry: its own key's ("docker.io" and "index.docker.io" are
// one registry), else "*"'s; "" for none, or when the mirror is the registry itself.
func (c *Cache) mirrorOf(r name.Reference) string {
	registry := r.Context().RegistryStr()
	mirror := ""
	for key, m := range c.Mirrors {
		if key == "*" {
			if mirror == "" {
				mirror = m
			}
			continue
		}
		if reg, err := name.NewRegistry(key); err == nil && reg.RegistryStr() == registry {
			mirror = m
			break
		}
	}
	if mirror == registry {
		return ""
	}
	return mirror
}

// mirrored is r at the mirror: the same repository path and tag or digest. A loopback mirror
// speaks plain http.
func mirrored(r name.Reference, mirror string) (name.Reference, error) {
	var opts []name.Option
	if loopback(mirror) {
		opts = append(opts, name.Insecure)
	}
	repo := strings.TrimSuffix(mirror, "/") + "/" + r.Context().RepositoryStr()
	if d, ok := r.(name.Digest); ok {
		return name.NewDigest(repo+"@"+d.DigestStr(), opts...)
	}
	return name.NewTag(repo+":"+r.Identifier(), opts...)
}

// loopback says whether a mirror (host[:port][/path]) is on this machine: localhost, or an
// address of 127.0.0.0/8 or ::1.
func loopback(mirror string) bool {
	host, _, _ := strings.Cut(mirror, "/")
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "localhost" {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}
