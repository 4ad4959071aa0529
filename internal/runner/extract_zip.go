package runner

import (
	"archive/zip"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strings"
)

// zip unpacks a zip file. NuGet packages are zips whose packaging files
// (_rels/, package/services/metadata/, [Content_Types].xml, *.nuspec,
// *.nupkg.sha512) are left out and whose names are %-escaped, as Calamari's
// NupkgExtractor does.
func (x *extraction) zip(f *os.File, size int64, nupkg bool) error {
	zr, err := zip.NewReader(f, size)
	// With GODEBUG=zipinsecurepath=0 the reader flags unsafe names but is
	// still usable; archivePath refuses them with a reason.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return readError(fmt.Errorf("%w (the package is truncated or not a zip file)", err))
	}
	if len(zr.File) > x.opts.MaxFiles {
		return x.refuse(zr.File[x.opts.MaxFiles].Name, fmt.Errorf("the package has more than %d entries", x.opts.MaxFiles))
	}
	var consumed int64
	x.consumed = func() int64 { return consumed }
	for _, zf := range zr.File {
		name := zf.Name
		if nupkg {
			if unescaped, err := url.PathUnescape(name); err == nil {
				name = unescaped
			}
			if nugetPackagingFile(name) {
				continue
			}
		}
		// The zip format says '/', but some Windows tools wrote '\'.
		name = strings.ReplaceAll(name, `\`, "/")
		n, err := x.zipEntry(zf, name)
		consumed += n
		if err != nil {
			return err
		}
	}
	return nil
}

func nugetPackagingFile(name string) bool {
	lower := strings.ToLower(strings.ReplaceAll(name, `\`, "/"))
	return strings.HasPrefix(lower, "_rels/") ||
		strings.HasPrefix(lower, "package/services/metadata/") ||
		lower == "[content_types].xml" ||
		strings.HasSuffix(lower, ".nupkg.sha512") ||
		strings.HasSuffix(lower, ".nuspec")
}

// Systems that made a zip, from the high byte of its "version made by".
const (
	zipCreatorUnix  = 3
	zipCreatorMacOS = 19
)

// zipEntry writes one entry and returns the compressed bytes it read.
func (x *extraction) zipEntry(zf *zip.File, name string) (int64, error) {
	rel, err := archivePath(name)
	if err != nil {
		return 0, x.refuse(name, err)
	}
	if err := x.countEntry(name); err != nil {
		return 0, err
	}
	mode := zf.Mode()
	if creator := zf.CreatorVersion >> 8; creator != zipCreatorUnix && creator != zipCreatorMacOS {
		// Zips made on Windows carry no permissions and read as 0666/0777;
		// give them what a umask of 022 would.
		mode &^= 0o022
	}
	switch {
	case mode.IsDir() || strings.HasSuffix(name, "/"):
		return 0, x.dir(name, rel, mode.Perm())
	case mode&(fs.ModeDevice|fs.ModeCharDevice) != 0:
		return 0, x.refuse(name, errors.New("it is a device file"))
	case mode&fs.ModeNamedPipe != 0:
		return 0, x.refuse(name, errors.New("it is a named pipe"))
	case mode&fs.ModeSocket != 0:
		return 0, x.refuse(name, errors.New("it is a socket"))
	}
	if zf.Flags&0x1 != 0 {
		return 0, x.refuse(name, errors.New("it is encrypted"))
	}
	raw, err := zf.OpenRaw()
	if err != nil {
		return 0, readError(err)
	}
	counted := &countingReader{r: raw}
	base := x.consumed
	x.consumed = func() int64 { return base() + counted.n }
	defer func() { x.consumed = base }()

	var content io.Reader
	switch zf.Method {
	case zip.Store:
		content = counted
	case zip.Deflate:
		fr := flate.NewReader(counted)
		defer fr.Close()
		content = fr
	default:
		return counted.n, x.refuse(name, fmt.Errorf("it uses compression method %d; only stored and deflate are supported", zf.Method))
	}
	check := &zipCheck{r: content, crc: crc32.NewIEEE()}

	if mode&fs.ModeSymlink != 0 {
		target, err := io.ReadAll(io.LimitReader(check, 4096))
		if err != nil {
			return counted.n, readError(err)
		}
		if err := check.verify(zf); err != nil {
			return counted.n, x.refuse(name, err)
		}
		return counted.n, x.symlink(name, rel, string(target))
	}
	if err := x.file(name, rel, mode.Perm(), zf.Modified, check); err != nil {
		return counted.n, err
	}
	if err := check.verify(zf); err != nil {
		return counted.n, x.refuse(name, err)
	}
	return counted.n, nil
}

// zipCheck verifies what OpenRaw leaves unchecked: the CRC-32 and the size
// the central directory records.
type zipCheck struct {
	r   io.Reader
	crc interface {
		io.Writer
		Sum32() uint32
	}
	n int64
}

func (z *zipCheck) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	z.crc.Write(p[:n])
	z.n += int64(n)
	return n, err
}

func (z *zipCheck) verify(zf *zip.File) error {
	if z.n != int64(zf.UncompressedSize64) {
		return fmt.Errorf("its content is %d bytes, but the zip says %d (the package is corrupt)", z.n, zf.UncompressedSize64)
	}
	if z.crc.Sum32() != zf.CRC32 {
		return errors.New("its checksum does not match (the package is corrupt)")
	}
	return nil
}
