package sshtarget

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// remoteCallCommand is the argument that makes the pulpo binary serve one
// call: "pulpo remote-call --home HOME METHOD", request on stdin, reply on
// stdout.
const remoteCallCommand = "remote-call"

// Methods of a remote call. Server and remote run the same binary (it is
// addressed by its hash), so both sides always speak the same version.
const (
	methodCapabilities   = "capabilities"
	methodStartScript    = "start-script"
	methodGetStatus      = "get-status"
	methodCancelScript   = "cancel-script"
	methodCompleteScript = "complete-script"
	methodPrepareUpload  = "prepare-upload"
	methodHashFile       = "hash-file"
	methodResolvePath    = "resolve-path"
)

// codeNotEnoughSpace marks a reply whose error is contract.ErrNotEnoughSpace,
// which callers test with errors.Is.
const codeNotEnoughSpace = "not-enough-space"

type ticketRequest struct {
	Ticket string `json:"ticket"`
}

type prepareUploadRequest struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

type prepareUploadResult struct {
	// Path is the upload's destination, made absolute.
	Path string `json:"path"`
	// TempPath is an empty file next to it that receives the content.
	TempPath string `json:"tempPath"`
}

type pathRequest struct {
	Path string `json:"path"`
	// Sync flushes the file to disk before it is hashed, so a file renamed
	// into place afterwards survives a crash whole.
	Sync bool `json:"sync,omitempty"`
}

type pathResult struct {
	Path string `json:"path"`
}

// successReply and errorReply are the two shapes of a reply.
type successReply struct {
	Result any `json:"result"`
}

type errorReply struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// reply is a reply as the caller reads it: Error is "" on success.
type reply struct {
	Result json.RawMessage
	Error  string
	Code   string
}

func encodeReply(w io.Writer, result any, err error) error {
	if err == nil {
		return json.NewEncoder(w).Encode(successReply{Result: result})
	}
	r := errorReply{Error: err.Error()}
	if r.Error == "" {
		r.Error = "unknown error"
	}
	if errors.Is(err, contract.ErrNotEnoughSpace) {
		r.Code = codeNotEnoughSpace
	}
	return json.NewEncoder(w).Encode(r)
}

// readReply finds the reply line in a remote call's stdout. A login shell
// may print a banner first (a chatty .bashrc), so other lines are skipped
// and kept, shortened, for an error message.
func readReply(r io.Reader) (reply, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var noise limitedBuffer
	for {
		line, err := br.ReadBytes('\n')
		if trimmed := bytes.TrimSpace(line); len(trimmed) > 0 {
			if rep, ok := parseReply(trimmed); ok {
				io.Copy(io.Discard, br) // let the session end normally
				return rep, noise.String(), nil
			}
			noise.Write(line)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return reply{}, noise.String(), fmt.Errorf("no reply on stdout")
			}
			return reply{}, noise.String(), err
		}
	}
}

// parseReply decodes a line that is a reply: an object with a "result" or
// an "error" member.
func parseReply(line []byte) (reply, bool) {
	if line[0] != '{' {
		return reply{}, false
	}
	var members map[string]json.RawMessage
	if json.Unmarshal(line, &members) != nil {
		return reply{}, false
	}
	rep := reply{Result: members["result"]}
	rawErr, hasError := members["error"]
	if rep.Result == nil && !hasError {
		return reply{}, false
	}
	if hasError {
		if json.Unmarshal(rawErr, &rep.Error) != nil {
			return reply{}, false
		}
		if rep.Error == "" {
			rep.Error = "unknown error"
		}
		json.Unmarshal(members["code"], &rep.Code)
	}
	return rep, true
}

// remoteError is an error the remote side reported.
type remoteError struct {
	msg  string
	code string
}

func (e *remoteError) Error() string { return e.msg }

// Answered says the machine received the call and refused it, so repeating
// it will not help (see contract.IsAnswered).
func (e *remoteError) Answered() bool { return true }

// Is lets errors.Is recognise the errors callers must tell apart.
func (e *remoteError) Is(target error) bool {
	return e.code == codeNotEnoughSpace && target == contract.ErrNotEnoughSpace
}
