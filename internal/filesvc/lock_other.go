//go:build !unix

package filesvc

// lockDir locks nothing here: a sweep and a cache check may interleave,
// and the worst case is a deployment that fails for a package a sweep
// removed just after the server found it.
func lockDir(string, bool) func() { return func() {} }
