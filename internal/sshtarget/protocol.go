package sshtarget

import (
	"encoding/json"
	"errors"
	"io"

	"github.com/pulpo-deploy/pulpo/internal/contract"
)

// remoteCallCommand is the argument that makes the pulpo binary serve one
// call: "pulpo remote-call --home HOME METHOD", request on stdin, reply on
// stdout. The server itself now talks to remote-serve instead; this
// one-shot form keeps working for whoever runs it.
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
