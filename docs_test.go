package clientreg_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every "docs/behaviour.md §N" cited in the code names a section that the
// document has, so that a citation never points at nothing (the tests cite
// the document, which a clone has, rather than a file outside the project).
func TestBehaviourCitations(t *testing.T) {
	doc, err := os.ReadFile("docs/behaviour.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## ([0-9]+)\. `).FindAllStringSubmatch(string(doc), -1) {
		sections[m[1]] = true
	}
	cite := regexp.MustCompile(`docs/behaviour\.md (§[0-9]+(?: and §[0-9]+)?)`)
	num := regexp.MustCompile(`§([0-9]+)`)
	n := 0
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range cite.FindAllStringSubmatch(string(b), -1) {
			for _, s := range num.FindAllStringSubmatch(m[1], -1) {
				n++
				if !sections[s[1]] {
					t.Errorf("%s cites docs/behaviour.md §%s, which has no such section", path, s[1])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no citation of docs/behaviour.md found: the scan is broken")
	}
}
