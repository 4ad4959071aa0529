package filesvc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// The SHA-256 of a file the service wrote or hashed is kept in an extended
// attribute with the size and modification time it belonged to, so asking
// again whether a cached package is whole costs a stat, not a read of the
// whole file. A file changed since (other size or time) is hashed afresh.
// The attribute goes with the file when it is removed, and where the file
// system keeps no attributes every question hashes the file.
const hashAttr = "user.pulpo.sha256"

func hashStamp(st os.FileInfo, sum string) string {
	return fmt.Sprintf("%d:%d:%s", st.Size(), st.ModTime().UnixNano(), sum)
}

// stampedHash is the hash recorded on f, if it still describes f as st.
func stampedHash(f *os.File, st os.FileInfo) (string, bool) {
	v, ok := getAttr(f, hashAttr)
	if !ok {
		return "", false
	}
	parts := strings.Split(v, ":")
	if len(parts) != 3 || len(parts[2]) != 64 {
		return "", false
	}
	size, err1 := strconv.ParseInt(parts[0], 10, 64)
	mtime, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || size != st.Size() || mtime != st.ModTime().UnixNano() {
		return "", false
	}
	return parts[2], true
}

// stampHash records sum on f as it is now; failing to is harmless.
func stampHash(f *os.File, sum string) {
	st, err := f.Stat()
	if err != nil {
		return
	}
	setAttr(f, hashAttr, hashStamp(st, sum))
}

// KnownSHA256 is the hash stamped on the file at name when the stamp still
// fits it, so a reader that trusts this service's transfers (the runner)
// need not hash a package again.
func KnownSHA256(name string) (string, bool) {
	f, err := os.Open(name)
	if err != nil {
		return "", false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "", false
	}
	return stampedHash(f, st)
}
