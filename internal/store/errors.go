package store

import (
	"errors"
	"fmt"
)

// ErrNotFound is matched (errors.Is) by every "no such object" error.
var ErrNotFound = errors.New("not found")

// ErrConflict is matched by every error that says the change clashes with
// what is stored: a duplicate name, a stale version, a reference in use.
var ErrConflict = errors.New("conflict")

// ErrLeaseLost is returned for a write on behalf of a task whose lease this
// node no longer holds; the writer must stop working on the task.
var ErrLeaseLost = errors.New("task lease lost")

// NotFoundError names what was looked for.
type NotFoundError struct {
	Kind string // "environment", "project", …
	Key  string // the id or name looked up
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q was not found", e.Kind, e.Key) }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

func notFound(kind, key string) error { return &NotFoundError{Kind: kind, Key: key} }

// ConflictError explains a conflict in words a user can act on.
type ConflictError struct {
	Msg string
	Err error // the database's own error, when there is one
}

func (e *ConflictError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// Unwrap exposes the database error.
func (e *ConflictError) Unwrap() error { return e.Err }

func conflict(format string, args ...any) error {
	return &ConflictError{Msg: fmt.Sprintf(format, args...)}
}
