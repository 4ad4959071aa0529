package template

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// textEncoding maps Octostache's encoding argument to bytes: utf8 (the
// default) or unicode (UTF-16 little-endian, as .NET's Encoding.Unicode).
func encodeText(s, encoding string) ([]byte, bool) {
	switch strings.ToLower(encoding) {
	case "", "utf8", "utf-8":
		return []byte(s), true
	case "unicode":
		units := utf16.Encode([]rune(s))
		out := make([]byte, 2*len(units))
		for i, u := range units {
			out[2*i] = byte(u)
			out[2*i+1] = byte(u >> 8)
		}
		return out, true
	}
	return nil, false
}

func decodeText(b []byte, encoding string) (string, bool) {
	switch strings.ToLower(encoding) {
	case "", "utf8", "utf-8":
		return strings.ToValidUTF8(string(b), string(utf8.RuneError)), true
	case "unicode":
		units := make([]uint16, len(b)/2)
		for i := range units {
			units[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
		}
		s := string(utf16.Decode(units))
		if len(b)%2 == 1 {
			s += string(utf8.RuneError)
		}
		return s, true
	}
	return "", false
}

// decodeBase64 accepts what .NET's Convert.FromBase64String does: padded
// standard base64, with whitespace ignored.
func decodeBase64(s string) ([]byte, bool) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

func toBase64(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) > 1 {
		return "", false, nil
	}
	b, ok := encodeText(in.value, firstArg(in.args))
	if !ok {
		return "", false, nil
	}
	return base64.StdEncoding.EncodeToString(b), true, nil
}

func fromBase64(in filterInput) (string, bool, error) {
	if !in.defined || len(in.args) > 1 {
		return "", false, nil
	}
	b, ok := decodeBase64(in.value)
	if !ok {
		return "", false, nil
	}
	s, ok := decodeText(b, firstArg(in.args))
	return s, ok, nil
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

// hashFilter is Md5, Sha1, Sha256, Sha384 and Sha512: a lower-case hex
// digest, optionally cut to a number of bytes, of the value in an encoding
// (utf8, unicode or base64); the two options may come in either order.
func hashFilter(name string) filterFunc {
	return func(in filterInput) (string, bool, error) {
		if !in.defined || len(in.args) > 2 {
			return "", false, nil
		}
		encoding, size := "utf8", 0
		switch len(in.args) {
		case 1:
			if n, ok := parseDotnetInt(in.args[0]); ok {
				if n <= 0 {
					return "", false, nil
				}
				size = n
			} else {
				encoding = in.args[0]
			}
		case 2:
			a, b := in.args[0], in.args[1]
			if n, ok := parseDotnetInt(a); ok {
				if n <= 0 {
					return "", false, nil
				}
				size, encoding = n, b
			} else {
				n, ok := parseDotnetInt(b)
				if !ok || n <= 0 {
					return "", false, nil
				}
				size, encoding = n, a
			}
		}
		var data []byte
		if strings.EqualFold(encoding, "base64") {
			b, ok := decodeBase64(in.value)
			if !ok {
				return "", false, nil
			}
			data = b
		} else {
			b, ok := encodeText(in.value, encoding)
			if !ok || encoding == "" {
				return "", false, nil
			}
			data = b
		}
		var h hash.Hash
		switch name {
		case "md5":
			h = md5.New()
		case "sha1":
			h = sha1.New()
		case "sha256":
			h = sha256.New()
		case "sha384":
			h = sha512.New384()
		default:
			h = sha512.New()
		}
		h.Write(data)
		sum := h.Sum(nil)
		if size > 0 && size < len(sum) {
			sum = sum[:size]
		}
		return hex.EncodeToString(sum), true, nil
	}
}
