package template

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Error is a parse or render failure. Line and Column (1-based, columns in
// characters) locate it in the text being processed: the template itself, or
// the value of Variable when a variable's value failed.
type Error struct {
	Line, Column int
	Msg          string
	Variable     string // the variable whose value failed, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Variable != "" {
		fmt.Fprintf(&b, "in the value of variable %q: ", e.Variable)
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// errCycle marks the message of a reference-cycle error so JSON navigation can
// tell it apart (Octostache swallows cycles met only while looking inside a
// value for JSON properties).
const cycleMsgPrefix = "variable reference cycle: "

func isCycle(err error) bool {
	var e *Error
	return errors.As(err, &e) && strings.HasPrefix(e.Msg, cycleMsgPrefix)
}

// position turns a byte offset in src into a 1-based line and column. It is
// only computed when an error is reported, so it may scan.
func position(src string, offset int) (line, col int) {
	if offset > len(src) {
		offset = len(src)
	}
	if offset < 0 {
		offset = 0
	}
	head := src[:offset]
	line = strings.Count(head, "\n") + 1
	lineStart := strings.LastIndexByte(head, '\n') + 1
	col = utf8.RuneCountInString(head[lineStart:]) + 1
	return line, col
}

// errorAt builds an *Error located at offset within src.
func errorAt(src string, offset int, format string, args ...any) *Error {
	line, col := position(src, offset)
	return &Error{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// locate gives err a position and owning variable when it has none yet, so
// errors raised deep in resolution are reported where the template refers to
// the failing thing.
func locate(err error, src string, offset int, variable string) error {
	var e *Error
	if !errors.As(err, &e) {
		line, col := position(src, offset)
		return &Error{Line: line, Column: col, Msg: err.Error(), Variable: variable}
	}
	if e.Line == 0 {
		e.Line, e.Column = position(src, offset)
		if e.Variable == "" {
			e.Variable = variable
		}
	}
	return e
}
