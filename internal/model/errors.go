// Package model holds Pulpo's entities and the rules that govern them:
// validation, lifecycle progression and release versions. It does no I/O.
package model

import (
	"fmt"
	"strings"
)

// ValidationError lists everything wrong with an object a user sent, so a
// single round trip tells them all they need to fix.
type ValidationError struct {
	Subject  string   // what was being validated, e.g. `environment "Dev"`
	Problems []string // each one says what to fix, e.g. "name: is required"
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("%s is invalid: %s", e.Subject, strings.Join(e.Problems, "; "))
}

// problems accumulates validation messages; err returns nil when there are none.
type problems struct {
	subject string
	list    []string
}

func (p *problems) add(field, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	p.list = append(p.list, msg)
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Subject: p.subject, Problems: p.list}
}

// RefusedError says why an action that is well-formed is not allowed now,
// for example a deployment the lifecycle does not permit yet.
type RefusedError struct {
	Reason string
}

func (e *RefusedError) Error() string { return e.Reason }
