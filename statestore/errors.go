package statestore

import (
	"errors"
	"fmt"
)

// The kinds of failure a writer reports. Match them with errors.Is; the error's text says what
// failed and never holds a credential.
var (
	// ErrAuthentication: the store refused the credentials. Retrying does not help until they change.
	ErrAuthentication = errors.New("authentication failed")
	// ErrNotFound: the repository, branch, bucket or file does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: someone else changed the store at the same time and the writer gave up
	// reconciling with them. Retrying usually helps.
	ErrConflict = errors.New("conflicting concurrent change")
	// ErrTransient: the store could not be reached or failed; retrying may help.
	ErrTransient = errors.New("store unavailable")
	// ErrInvalidPath: a path escapes the store or its directory. Retrying does not help.
	ErrInvalidPath = errors.New("invalid path")
	// ErrInvalidContent: a workload's content cannot be decoded (not base64(gzip), or too large).
	// Retrying does not help until the content changes.
	ErrInvalidContent = errors.New("invalid workload content")
	// ErrInvalidConfig: the writer's settings cannot work (bad URL, missing key). Retrying does
	// not help until they change.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrClosed: the writer was closed.
	ErrClosed = errors.New("writer closed")
)

// Error is a writer failure of one kind, with what was being done and the cause.
type Error struct {
	// Kind is one of the Err* values of this package.
	Kind error
	// Op is what failed, e.g. "push to https://git.example.com/state.git".
	Op string
	// Err is the cause; may be nil.
	Err error
}

// NewError returns an Error of the given kind.
func NewError(kind error, op string, cause error) *Error {
	return &Error{Kind: kind, Op: op, Err: cause}
}

// Error is "op: kind: cause". The userinfo of any URL in it is removed (RedactURLsIn): a cause
// from a client library may quote the URL of its request, and this text reaches conditions,
// Events and logs.
func (e *Error) Error() string {
	var msg string
	switch {
	case e.Err == nil:
		msg = fmt.Sprintf("%s: %v", e.Op, e.Kind)
	case errors.Is(e.Err, e.Kind):
		msg = fmt.Sprintf("%s: %v", e.Op, e.Err)
	default:
		msg = fmt.Sprintf("%s: %v: %v", e.Op, e.Kind, e.Err)
	}
	return RedactURLsIn(msg)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the error's kind, so errors.Is(err, ErrTransient) works however deeply it is wrapped.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Retryable reports whether trying the same change again later may succeed.
func Retryable(err error) bool {
	return errors.Is(err, ErrTransient) || errors.Is(err, ErrConflict)
}

func invalidPath(path, why string) error {
	return NewError(ErrInvalidPath, fmt.Sprintf("path %q", path), errors.New(why))
}
