package runner

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// tar unpacks a tar stream, gzip-compressed or not.
func (x *extraction) tar(f *os.File, gzipped bool) error {
	counted := &countingReader{r: f}
	x.consumed = func() int64 { return counted.n }
	var stream io.Reader = bufio.NewReaderSize(counted, 64<<10)
	if gzipped {
		gz, err := gzip.NewReader(stream)
		if err != nil {
			return fmt.Errorf("read gzip header: %w", err)
		}
		defer gz.Close()
		stream = gz
	}
	tr := tar.NewReader(stream)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			// What follows the end of the tar must read cleanly too: gzip
			// checks its CRC and length at the very end.
			if _, err := io.Copy(io.Discard, stream); err != nil {
				return readError(err)
			}
			return nil
		}
		// With GODEBUG=tarinsecurepath=0 the reader flags unsafe names but
		// still returns the header; archivePath refuses them with a reason.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return readError(err)
		}
		if err := x.tarEntry(tr, hdr); err != nil {
			return err
		}
	}
}

// readError explains the usual cause of a read failure mid-archive.
func readError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("read archive: %w (the package is truncated or corrupt)", err)
	}
	return fmt.Errorf("read archive: %w", err)
}

func (x *extraction) tarEntry(tr *tar.Reader, hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil // pax metadata for the whole archive (git archive writes one)
	}
	name := hdr.Name
	rel, err := archivePath(name)
	if err != nil {
		return x.refuse(name, err)
	}
	if err := x.countEntry(name); err != nil {
		return err
	}
	perm := hdr.FileInfo().Mode().Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.dir(name, rel, perm)
	case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		return x.file(name, rel, perm, hdr.ModTime, tr)
	case tar.TypeSymlink:
		return x.symlink(name, rel, hdr.Linkname)
	case tar.TypeLink:
		return x.hardlink(name, rel, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return x.refuse(name, errors.New("it is a device file"))
	case tar.TypeFifo:
		return x.refuse(name, errors.New("it is a named pipe"))
	}
	return x.refuse(name, fmt.Errorf("it has the unsupported tar entry type %q", hdr.Typeflag))
}
