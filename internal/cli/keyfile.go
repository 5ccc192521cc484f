package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KeySize is the length in bytes of the server key in the key file.
const KeySize = 32

// maxKeyFileSize bounds what loadKey reads: 64 hex digits and a newline,
// with room for a CRLF or trailing blanks.
const maxKeyFileSize = 2*KeySize + 16

// LoadOrCreateKey returns the server key stored in the file at path,
// creating the file with a new random key if it does not exist.
//
// The file holds the key as 64 hexadecimal digits and a newline. It is
// created with mode 0600 and never overwritten: the key is written to a
// temporary file in the same directory, which is then hard-linked to path;
// the link fails when path exists, like O_EXCL, so when two processes race
// to create the key, both end up using the one that was linked first, and
// no process ever reads a half-written key. (Where hard links are not
// supported, the file is created with O_CREATE|O_EXCL instead.)
//
// An existing file is refused when group or others have any permission on
// it, or when it does not hold exactly KeySize bytes. created reports
// whether this call made the file.
//
// It is exported for the repository's tools that write a database a
// server then opens (tools/perf/seed), which must make and read the key
// file exactly as `clientreg serve` does.
func LoadOrCreateKey(path string) (key []byte, created bool, err error) {
	key, err = loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, KeySize)
	if _, err := io.ReadFull(rand.Reader, key); err != nil {
		return nil, false, fmt.Errorf("generate server key: %w", err)
	}
	err = createKeyFile(path, []byte(hex.EncodeToString(key)+"\n"))
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use that key.
		key, err = loadKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("create key file: %w", err)
	}
	return key, true, nil
}

// createKeyFile creates path with contents and mode 0600. It returns an
// error matching fs.ErrExist when path already exists.
func createKeyFile(path string, contents []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := writeAndSync(tmp, contents); err != nil {
		return err
	}
	err = os.Link(tmpName, path)
	if errors.Is(err, fs.ErrExist) {
		return err
	}
	if err != nil {
		// No hard links on this file system.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if err := writeAndSync(f, contents); err != nil {
			os.Remove(path)
			return err
		}
	}
	syncDir(filepath.Dir(path))
	return nil
}

// writeAndSync writes contents to f with mode 0600, flushes and closes it.
func writeAndSync(f *os.File, contents []byte) error {
	err := f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(contents)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a new directory entry durable, as far as the platform
// allows.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// loadKey reads the key file at path; see LoadOrCreateKey.
func loadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o, which lets others read or change it; run: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("key file %s must hold exactly %d bytes as %d hexadecimal digits", path, KeySize, 2*KeySize)
	}
	return key, nil
}
