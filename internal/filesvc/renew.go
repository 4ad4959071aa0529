package filesvc

import (
	"os"
	"path/filepath"
	"time"
)

// A target's package cache is swept by age (the runner removes what no step
// used for a while), so a use must renew a file's time, and a renewal and a
// sweep of the same folder must not interleave: otherwise the server could
// find a package cached (StatFile renews it) while another deployment's
// sweep, which had just seen the old time, removes it before this
// deployment's runner opens it. Both hold a lock on the file's folder, a
// renewal shared and a sweep exclusive, so a sweep sees either the new time
// (and keeps the file) or removes the file before the renewal, which then
// finds it missing (and the server sends it again).

// Renew marks the file at name as used now: its modification time becomes
// t, and its hash stamp, when it fitted the file, moves with it, so the
// next cache check still costs a stat rather than a read of the file. A
// missing file is fs.ErrNotExist.
func Renew(name string, t time.Time) error {
	unlock := lockDir(filepath.Dir(name), false)
	defer unlock()
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return nil
	}
	sum, stamped := stampedHash(f, st)
	if err := os.Chtimes(name, t, t); err != nil {
		return err
	}
	if stamped {
		stampHash(f, sum)
	}
	return nil
}

// LockForSweep holds dir's exclusive lock until the returned function is
// called: no Renew of a file directly in dir runs meanwhile. Where the
// lock cannot be taken (another system, a folder that cannot be opened)
// the sweep goes on unlocked: the worst case is a resend.
func LockForSweep(dir string) (unlock func()) {
	return lockDir(dir, true)
}
