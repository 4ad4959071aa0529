package runner

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
)

// output writes whole lines to the run's stdout and stderr. The script
// service records each line with a sequence number, so a line must never
// be split or interleaved with another; one mutex covers both streams
// because callers often pass the same writer twice.
type output struct {
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
}

func newOutput(stdout, stderr io.Writer) *output {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	return &output{stdout: stdout, stderr: stderr}
}

func (o *output) writeLine(w io.Writer, line string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	io.WriteString(w, line+"\n")
}

// Infof prints a progress line.
func (o *output) Infof(format string, args ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		o.writeLine(o.stdout, l)
	}
}

// Warnf prints a warning: something was skipped that the user may want.
func (o *output) Warnf(format string, args ...any) {
	o.Infof("Warning: "+format, args...)
}

// Errorf prints an error line on stderr.
func (o *output) Errorf(format string, args ...any) {
	for _, l := range strings.Split(fmt.Sprintf(format, args...), "\n") {
		o.writeLine(o.stderr, l)
	}
}

// SetOutputVariable prints the service message that makes name an output
// variable of the step, as Calamari does for the installation folder.
func (o *output) SetOutputVariable(name, value string) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	o.writeLine(o.stdout, fmt.Sprintf("##octopus[setVariable name='%s' value='%s']", b64(name), b64(value)))
}

// lineWriter is an io.Writer for a child process's stream: it passes
// complete lines to the output unchanged (service messages included) and
// shows each to onLine.
type lineWriter struct {
	out    *output
	w      io.Writer
	onLine func(string)
	buf    []byte
}

// maxLineBytes splits a line that never ends (a binary blob, a progress
// bar), so a script cannot make the runner hold unbounded output.
const maxLineBytes = 64 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(string(bytes.TrimSuffix(l.buf[:i], []byte("\r"))))
		l.buf = l.buf[i+1:]
	}
	for len(l.buf) >= maxLineBytes {
		l.emit(string(l.buf[:maxLineBytes]))
		l.buf = l.buf[maxLineBytes:]
	}
	if len(l.buf) == 0 {
		l.buf = nil // let the backing array of a long burst go
	}
	return len(p), nil
}

// Flush passes on a last line that had no newline.
func (l *lineWriter) Flush() {
	if len(l.buf) > 0 {
		l.emit(string(l.buf))
		l.buf = nil
	}
}

func (l *lineWriter) emit(line string) {
	l.out.writeLine(l.w, line)
	if l.onLine != nil {
		l.onLine(line)
	}
}

// parseSetVariable reads `##octopus[setVariable name='…' value='…']` (or
// ##pulpo[…]) with base64 attributes; ok is false for any other line.
func parseSetVariable(line string) (name, value string, ok bool) {
	line = strings.TrimSpace(line)
	var rest string
	for _, prefix := range []string{"##octopus[", "##pulpo["} {
		if r, found := strings.CutPrefix(line, prefix); found {
			rest = r
			break
		}
	}
	rest, found := strings.CutSuffix(rest, "]")
	if !found {
		return "", "", false
	}
	kind, rest, _ := strings.Cut(rest, " ")
	if !strings.EqualFold(kind, "setVariable") {
		return "", "", false
	}
	attrs := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimSpace(rest) {
		key, after, ok := strings.Cut(rest, "='")
		if !ok {
			return "", "", false
		}
		encoded, tail, ok := strings.Cut(after, "'")
		if !ok {
			return "", "", false
		}
		decoded, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return "", "", false
		}
		attrs[strings.ToLower(strings.TrimSpace(key))] = string(decoded)
		rest = tail
	}
	return attrs["name"], attrs["value"], attrs["name"] != ""
}

// humanBytes shows a size for progress lines.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
