package runner

// Options are the runner's limits and tools; the zero value is the default.
type Options struct {
	// MaxTotalBytes caps what a package may expand to (default 10 GiB).
	MaxTotalBytes int64
	// MaxRatio refuses a package that expands more than this many times the
	// compressed bytes read so far (default 200), which catches zip bombs
	// early. It applies once MinBytesForRatio bytes are written (default
	// 100 MiB), so small, very compressible packages still extract.
	MaxRatio         float64
	MinBytesForRatio int64
	// MaxFiles caps the number of entries (default 1,000,000), so a package
	// of empty files cannot exhaust the file system's inodes.
	MaxFiles int
	// Python is the python3 used for .py scripts; empty looks up "python3"
	// on PATH.
	Python string
	// Version is the Pulpo version of this runner, named in its first line.
	Version string
}

const (
	defaultMaxTotalBytes    = 10 << 30
	defaultMaxRatio         = 200
	defaultMinBytesForRatio = 100 << 20
	defaultMaxFiles         = 1_000_000
)

func (o Options) withDefaults() Options {
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = defaultMaxTotalBytes
	}
	if o.MaxRatio <= 0 {
		o.MaxRatio = defaultMaxRatio
	}
	if o.MinBytesForRatio <= 0 {
		o.MinBytesForRatio = defaultMinBytesForRatio
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = defaultMaxFiles
	}
	return o
}
