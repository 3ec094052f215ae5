package clockcheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// forbidden maps an import path to the names in it that read the wall clock, with what to use
// instead.
var forbidden = map[string]map[string]string{
	"time": {
		"Now":   "use the injected clock's Now()",
		"Since": "use the injected clock's Since()",
		"Until": "use the injected clock's Until() or t.Sub(now)",
	},
	"k8s.io/apimachinery/pkg/apis/meta/v1": {
		"Now": "use metav1.NewTime(now) with now from the injected clock",
	},
	"k8s.io/apimachinery/pkg/api/meta": {
		"SetStatusCondition": "it stamps time.Now() on a zero LastTransitionTime; use conditions.Set(&conds, c, now)",
	},
}

// exempt are the top-level directories of the module that are not checked: the commands, which
// build the real clock, and the integration test harness, which is test code.
var exempt = map[string]bool{"cmd": true, "integration-test": true}

type violation struct {
	pos token.Position
	msg string
}

func (v violation) String() string {
	return fmt.Sprintf("%s:%d: %s", filepath.ToSlash(v.pos.Filename), v.pos.Line, v.msg)
}

// check returns the wall-clock references in one parsed file.
func check(fset *token.FileSet, f *ast.File) []violation {
	var out []violation
	imported := map[string]string{} // local name -> import path, for the watched paths only
	for _, spec := range f.Imports {
		p, err := strconv.Unquote(spec.Path.Value)
		if err != nil || forbidden[p] == nil {
			continue
		}
		name := path.Base(p) // the package names of the watched paths: time, v1, meta
		if spec.Name != nil {
			name = spec.Name.Name
		}
		switch name {
		case "_":
			continue
		case ".":
			out = append(out, violation{fset.Position(spec.Pos()),
				fmt.Sprintf("dot import of %q would hide its wall-clock reads; import it by name", p)})
			continue
		}
		imported[name] = p
	}
	if len(imported) == 0 {
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		id, ok := sel.X.(*ast.Ident)
		// id.Obj is set when the name resolves to a declaration in this file (a local variable
		// that shadows the import); an imported package name stays unresolved.
		if !ok || id.Obj != nil {
			return true
		}
		p, ok := imported[id.Name]
		if !ok {
			return true
		}
		if why, bad := forbidden[p][sel.Sel.Name]; bad {
			out = append(out, violation{fset.Position(sel.Pos()),
				fmt.Sprintf("%s.%s: %s", p, sel.Sel.Name, why)})
		}
		return true
	})
	return out
}

// moduleRoot is the directory of the go.mod above the working directory (the package's).
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// checkModule parses the module's checked files and returns their violations, sorted, with the
// number of files it read.
func checkModule(t *testing.T, root string) ([]violation, int) {
	t.Helper()
	fset := token.NewFileSet()
	var all []violation
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if rel == "." {
				return nil
			}
			if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" ||
				(!strings.Contains(rel, string(filepath.Separator)) && exempt[name]) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") || strings.HasPrefix(name, "zz_generated") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, rel, src, 0)
		if err != nil {
			return err
		}
		files++
		all = append(all, check(fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i].pos, all[j].pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Offset < b.Offset
	})
	return all, files
}

// TestNoWallClock fails on every wall-clock read outside cmd/, the clock itself and tests.
func TestNoWallClock(t *testing.T) {
	root := moduleRoot(t)
	violations, files := checkModule(t, root)
	if files < 50 {
		t.Fatalf("checked only %d files under %s: is the module root right?", files, root)
	}
	if len(violations) == 0 {
		return
	}
	lines := make([]string, len(violations))
	for i, v := range violations {
		lines[i] = "\t" + v.String()
	}
	t.Errorf("%d wall-clock reads outside cmd/; take the time from the injected clock (k8s.io/utils/clock) instead:\n%s",
		len(violations), strings.Join(lines, "\n"))
}

// TestCheck makes sure the checker sees through aliases, function values and dot imports, and
// leaves alone what only looks like a wall-clock read.
func TestCheck(t *testing.T) {
	const src = `package p

import (
	"time"
	tm "time"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	meta "k8s.io/apimachinery/pkg/apis/meta/v1"
	. "time"
	clk "k8s.io/utils/clock"
)

var now = time.Now // 12

func f(c clk.PassiveClock, conds *[]meta.Condition) {
	_ = tm.Since(c.Now()) // 15
	_ = time.Until        // 16
	_ = meta.Now()        // 17
	apimeta.SetStatusCondition(conds, meta.Condition{LastTransitionTime: meta.NewTime(c.Now())}) // 18
	_ = apimeta.FindStatusCondition(*conds, "Ready")
	_ = c.Since(c.Now())
	_ = time.Duration(3) * time.Second
	_ = Now()
	{
		time := c
		_ = time.Now()
	}
}
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range check(fset, f) {
		got = append(got, fmt.Sprintf("%d %s", v.pos.Line, strings.SplitN(v.msg, " ", 2)[0]))
	}
	want := []string{"8 dot", "12 time.Now:", "15 time.Since:", "16 time.Until:", "17 k8s.io/apimachinery/pkg/apis/meta/v1.Now:",
		"18 k8s.io/apimachinery/pkg/api/meta.SetStatusCondition:"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
