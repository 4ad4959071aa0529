package comms

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// maxFrame bounds one JSON frame; bulk data travels outside frames.
const maxFrame = 16 << 20

// writeFrame writes v as JSON behind a 4-byte big-endian length.
func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode frame: %w", err)
	}
	if len(b) > maxFrame {
		return fmt.Errorf("encode frame: %d bytes is over the %d limit", len(b), maxFrame)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := w.Write(append(hdr[:], b...)); err != nil {
		return err
	}
	return nil
}

// readFrame reads one frame into v.
func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return fmt.Errorf("frame of %d bytes is over the %d limit", n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode frame: %w", err)
	}
	return nil
}

// A call on one stream:
//
//	caller → request frame, then exactly BodyLength raw bytes when >= 0
//	callee → head frame (BodyLength of the reply, or an error before any
//	         body), the body, then a tail frame with the result or an error
//	         found while sending it
type request struct {
	Method     string          `json:"method"`
	Params     json.RawMessage `json:"params,omitempty"`
	BodyLength int64           `json:"bodyLength"`
}

type head struct {
	BodyLength int64      `json:"bodyLength"`
	Error      *wireError `json:"error,omitempty"`
}

type tail struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *wireError      `json:"error,omitempty"`
}

type wireError struct {
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}
