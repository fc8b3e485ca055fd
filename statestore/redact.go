package statestore

import (
	"net/url"
	"regexp"
	"strings"
)

// UnparseableURL is what messages show in place of a URL that does not parse: its text may
// hold anything, credentials included, so it is never echoed.
const UnparseableURL = "<unparseable URL>"

// RedactURL is the form of a store's URL or endpoint that messages, conditions, Events and logs
// show: without its userinfo, whatever the scheme. A user in an https URL is often a token
// (https://TOKEN@github.com/org/repo.git), and user:password@ is a password; the user of an ssh
// URL (git@) is no secret, but one rule for every form is simpler to trust than a rule per
// scheme, and the message loses nothing that the spec does not say. So
//
//	https://TOKEN@host/org/repo.git  -> https://host/org/repo.git
//	ssh://git@host:22/org/repo.git   -> ssh://host:22/org/repo.git
//	git@host:org/repo.git            -> host:org/repo.git (scp-like)
//	user:secret@s3.example.com:9000  -> s3.example.com:9000 (an S3 endpoint)
//
// A URL with a scheme that does not parse, or a scheme-less one with an @ in it that is not
// user@host:..., is shown as UnparseableURL. A scheme-less string without an @ (a host, a
// host:port, a local path) cannot hold userinfo and is shown as it is.
func RedactURL(raw string) string {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return UnparseableURL
		}
		// A query or fragment may hold a token too (?private_token=...); a repository's URL
		// needs neither.
		u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
		return u.String()
	}
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if !strings.Contains(raw, "@") {
		return raw
	}
	// user@host:path or user@host:port: the userinfo ends at the last @ that is followed by a
	// host and a colon. Looking from the end also strips a password that holds an @; a path
	// that holds "@word:" loses what comes before it, which hides more, never less.
	for i := strings.LastIndexByte(raw, '@'); i >= 0; i = strings.LastIndexByte(raw[:i], '@') {
		if scpHost.MatchString(raw[i+1:]) {
			return raw[i+1:]
		}
	}
	return UnparseableURL
}

// scpHost matches the start of what follows the userinfo of a scp-like URL or an endpoint: a
// host and a colon.
var scpHost = regexp.MustCompile(`^[^:@/\s]+:`)

// userinfoInURL matches the scheme and userinfo of a URL inside free text, such as the error of
// an HTTP client that quotes the URL of its request.
var userinfoInURL = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s"'<>]*@`)

// RedactURLsIn removes the userinfo of every URL with a scheme in text: the second line of
// defence behind writers that never build requests from a URL with credentials.
func RedactURLsIn(text string) string {
	if !strings.Contains(text, "@") {
		return text
	}
	return userinfoInURL.ReplaceAllString(text, "$1")
}
