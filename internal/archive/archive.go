// Package archive is the password-encrypted file that moves projects
// between Pulpo servers: a configuration document (confdoc) holding
// everything the chosen projects reference, sensitive values included, and
// a manifest saying what it holds. The document is compressed, then sealed
// with AES-256-GCM under a key derived from the password with Argon2id.
//
// Layout: a 47-byte header, then the ciphertext. The header is
//
//	magic "PULPOARC" | format (1) | KDF (1, 1 = Argon2id) |
//	time (4, big endian) | memory KiB (4) | threads (1) | salt (16) | nonce (12)
//
// and is the ciphertext's additional data, so changing any byte of it (or of
// the ciphertext) makes the archive fail to open.
package archive

import (
	"bytes"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/pulpo-deploy/pulpo/internal/confdoc"
)

const (
	magic = "PULPOARC"
	// Format is the version of the layout and of the contents; a reader
	// refuses formats newer than its own.
	Format      = 1
	kdfArgon2id = 1

	headerLen = len(magic) + 1 + 1 + 4 + 4 + 1 + saltLen + nonceLen
	saltLen   = 16
	nonceLen  = 12

	// MinPasswordLength is the shortest password an export accepts: the
	// archive holds every sensitive value, and may be kept anywhere.
	MinPasswordLength = 12
	// MaxContents bounds the decompressed contents, so a small hostile
	// file cannot expand into all the server's memory.
	MaxContents = 256 << 20
	// PasswordHeader carries an import's password to the API: never in
	// the URL, where proxies and access logs would keep it.
	PasswordHeader = "X-Pulpo-Archive-Password"
	// Extension is the file name ending the CLI suggests.
	Extension = ".pulpoarchive"
)

// KDF is Argon2id's cost: passes over memory, memory in KiB, and lanes.
type KDF struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memoryKiB"`
	Threads   uint8  `json:"threads"`
}

// DefaultKDF is RFC 9106's second recommended setting (64 MiB, 3 passes,
// 4 lanes): a third of a second or so once per export or import (measured
// on a busy 2-CPU machine), and costly to guess passwords against in bulk.
var DefaultKDF = KDF{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

// maxKDF is the most a reader will spend on an archive's key: the header
// is untrusted, and a huge memory cost would be a denial of service.
var maxKDF = KDF{Time: 10, MemoryKiB: 1 << 20, Threads: 16}

// ErrPassword is the one answer to a wrong password and to a changed file:
// authenticated encryption cannot tell them apart.
var ErrPassword = errors.New("the password does not open this archive, or it was changed after export")

// ErrNotArchive says the bytes are not a Pulpo archive at all.
var ErrNotArchive = errors.New("this is not a Pulpo archive (or it is cut short)")

// Manifest says where an archive comes from and what it holds.
type Manifest struct {
	Format       int       `json:"format"`
	PulpoVersion string    `json:"pulpoVersion"`
	CreatedAt    time.Time `json:"createdAt"`
	// Server is the address the export was asked of, and its certificate's
	// thumbprint when it has one: enough to tell servers apart.
	Server           string `json:"server,omitempty"`
	ServerThumbprint string `json:"serverThumbprint,omitempty"`
	// All is set when the archive holds the whole server; otherwise
	// Projects are the ones asked for (those they deploy releases of come
	// along, and are listed in Counts).
	All      bool     `json:"all"`
	Projects []string `json:"projects"`
	// Counts is how many of each kind the document holds.
	Counts map[string]int `json:"counts"`
}

// Contents is what an archive holds once opened.
type Contents struct {
	Manifest Manifest         `json:"manifest"`
	Document confdoc.Document `json:"document"`
}

// ExportRequest asks for an archive: some projects by name, or all.
type ExportRequest struct {
	Projects []string `json:"projects,omitempty"`
	All      bool     `json:"all,omitempty"`
	// Password encrypts the archive; at least MinPasswordLength characters.
	Password string `json:"password"`
}

// ImportResult is what importing an archive did (or, in a dry run, would
// do): the archive's manifest and every object's change.
type ImportResult struct {
	Manifest Manifest `json:"manifest"`
	confdoc.Result
}

// CheckPassword refuses passwords too short to protect sensitive values,
// and control characters (the import API carries the password in a header).
func CheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPasswordLength {
		return fmt.Errorf("the archive password must be at least %d characters long", MinPasswordLength)
	}
	if !utf8.ValidString(pw) {
		return errors.New("the archive password must be UTF-8 text")
	}
	for _, r := range pw {
		if unicode.IsControl(r) {
			return errors.New("the archive password must not contain control characters such as a newline or tab")
		}
	}
	return nil
}

// Seal compresses and encrypts contents under the password.
func Seal(c *Contents, password string) ([]byte, error) {
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	return seal(c, password, DefaultKDF)
}

func seal(c *Contents, password string, kdf KDF) ([]byte, error) {
	var plain bytes.Buffer
	zw := gzip.NewWriter(&plain)
	if err := json.NewEncoder(zw).Encode(c); err != nil {
		return nil, fmt.Errorf("write archive contents: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress archive contents: %w", err)
	}
	header := make([]byte, headerLen)
	n := copy(header, magic)
	header[n], header[n+1] = Format, kdfArgon2id
	binary.BigEndian.PutUint32(header[n+2:], kdf.Time)
	binary.BigEndian.PutUint32(header[n+6:], kdf.MemoryKiB)
	header[n+10] = kdf.Threads
	if _, err := rand.Read(header[n+11:]); err != nil { // salt and nonce
		return nil, fmt.Errorf("draw salt and nonce: %w", err)
	}
	aead, err := newAEAD(password, header)
	if err != nil {
		return nil, err
	}
	nonce := header[headerLen-nonceLen:]
	return aead.Seal(header, nonce, plain.Bytes(), header), nil
}

// newAEAD derives the key from the password and the header's salt and cost.
func newAEAD(password string, header []byte) (cipher.AEAD, error) {
	n := len(magic) + 2
	kdf := KDF{Time: binary.BigEndian.Uint32(header[n:]), MemoryKiB: binary.BigEndian.Uint32(header[n+4:]), Threads: header[n+8]}
	salt := header[n+9 : n+9+saltLen]
	key := argon2.IDKey([]byte(password), salt, kdf.Time, kdf.MemoryKiB, kdf.Threads, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("archive cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

// Open checks, decrypts and reads an archive. A wrong password and a
// changed byte both give ErrPassword; nothing of the contents is trusted
// before the whole file is authenticated.
func Open(data []byte, password string) (*Contents, error) {
	return open(data, password, maxKDF)
}

func open(data []byte, password string, limit KDF) (*Contents, error) {
	if err := checkHeader(data, limit); err != nil {
		return nil, err
	}
	header := data[:headerLen]
	aead, err := newAEAD(password, header)
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, header[headerLen-nonceLen:], data[headerLen:], header)
	if err != nil {
		return nil, ErrPassword
	}
	zr, err := gzip.NewReader(bytes.NewReader(plain))
	if err != nil {
		return nil, fmt.Errorf("the archive's contents are damaged: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxContents+1))
	if err != nil {
		return nil, fmt.Errorf("the archive's contents are damaged: %w", err)
	}
	if len(raw) > MaxContents {
		return nil, fmt.Errorf("the archive's contents are larger than %d MiB", MaxContents>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	// An unknown field means a newer Pulpo wrote something this one would
	// silently drop: refuse rather than import half.
	dec.DisallowUnknownFields()
	var c Contents
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("the archive holds something this Pulpo cannot read (was it made by a newer version?): %w", err)
	}
	return &c, nil
}

// checkHeader refuses what is not an archive, a format or KDF this reader
// does not know, and costs beyond limit, before any key is derived.
func checkHeader(data []byte, limit KDF) error {
	if len(data) < headerLen || string(data[:len(magic)]) != magic {
		return ErrNotArchive
	}
	n := len(magic)
	if v := data[n]; v == 0 || v > Format {
		return fmt.Errorf("the archive is in format %d, which this Pulpo (format %d) cannot read; import it with a newer Pulpo", v, Format)
	}
	if data[n+1] != kdfArgon2id {
		return fmt.Errorf("the archive's key derivation (%d) is unknown to this Pulpo", data[n+1])
	}
	kdf := KDF{Time: binary.BigEndian.Uint32(data[n+2:]), MemoryKiB: binary.BigEndian.Uint32(data[n+6:]), Threads: data[n+10]}
	if kdf.Time == 0 || kdf.Threads == 0 || kdf.MemoryKiB < 8*uint32(kdf.Threads) ||
		kdf.Time > limit.Time || kdf.MemoryKiB > limit.MemoryKiB || kdf.Threads > limit.Threads {
		return fmt.Errorf("the archive's key derivation cost (%d passes, %d KiB, %d threads) is outside what this Pulpo accepts", kdf.Time, kdf.MemoryKiB, kdf.Threads)
	}
	if len(data) < headerLen+16 { // GCM's tag
		return ErrNotArchive
	}
	return nil
}

// Count says how many of each kind a document holds, for the manifest.
// A kind added to confdoc.Document gets its line here.
func Count(d *confdoc.Document) map[string]int {
	counts := map[string]int{
		"environments":    len(d.Environments),
		"workerPools":     len(d.WorkerPools),
		"machinePolicies": len(d.MachinePolicies),
		"librarySets":     len(d.LibrarySets),
		"lifecycles":      len(d.Lifecycles),
		"projectGroups":   len(d.ProjectGroups),
		"feeds":           len(d.Feeds),
		"scriptModules":   len(d.ScriptModules),
		"stepTemplates":   len(d.StepTemplates),
		"certificates":    len(d.Certificates),
		"projects":        len(d.Projects),
	}
	for k, n := range counts {
		if n == 0 {
			delete(counts, k)
		}
	}
	return counts
}
