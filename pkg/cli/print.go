package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"
)

// Table is rows of text under upper-case headers, printed in aligned columns as kubectl does.
type Table struct {
	// Headers are the column names, such as NAME or INTERVAL-MINUTES.
	Headers []string
	// Rows hold one cell per header. Commands write "" for an unset optional field, so that
	// columns a policy does not use stay quiet.
	Rows [][]string
}

// AddRow appends one row.
func (t *Table) AddRow(cells ...string) {
	t.Rows = append(t.Rows, cells)
}

// Write prints the table to w, columns separated by at least three spaces. Trailing blanks that
// padding leaves after empty last cells are cut, so rows compare equal to what a person types.
func (t Table) Write(w io.Writer) error {
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 8, 3, ' ', 0)
	if len(t.Headers) > 0 {
		fmt.Fprintln(tw, strings.Join(t.Headers, "\t"))
	}
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, line := range strings.SplitAfter(buf.String(), "\n") {
		if line == "" {
			continue
		}
		if _, err := io.WriteString(w, strings.TrimRight(line, " \n")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// Widths are the widths of t's columns, headers included, for WriteRows.
func (t Table) Widths() []int {
	var widths []int
	for _, r := range append([][]string{t.Headers}, t.Rows...) {
		for i, cell := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	return widths
}

// WriteRows prints t's rows without its headers, each column at least as wide as widths says, so
// that rows printed later (as a watch prints them) line up under a table printed before. It pads as
// Write does: three blanks between columns, none after the last cell.
func (t Table) WriteRows(w io.Writer, widths []int) error {
	for _, r := range t.Rows {
		var line strings.Builder
		for i, cell := range r {
			line.WriteString(cell)
			if i == len(r)-1 {
				break
			}
			width := utf8.RuneCountInString(cell)
			if i < len(widths) {
				width = max(width, widths[i])
			}
			line.WriteString(strings.Repeat(" ", width-utf8.RuneCountInString(cell)+3))
		}
		if _, err := io.WriteString(w, strings.TrimRight(line.String(), " ")+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// PrintData writes v as YAML or JSON. It is for things that are not API objects, such as the
// version report; use PrintObject for objects so that their kind is filled in.
func PrintData(w io.Writer, format OutputFormat, v any) error {
	switch format {
	case OutputYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	case OutputJSON:
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	return fmt.Errorf("output format %q cannot print data: use yaml or json", format)
}

// PrintObject writes an API object, or a list of them, in the chosen format. table is called
// only for table output. Objects read through a typed client come without apiVersion and kind;
// they are filled in from scheme first, so that the YAML can be applied again as it is.
func PrintObject(w io.Writer, format OutputFormat, scheme *runtime.Scheme, obj runtime.Object, table func() Table) error {
	if format == OutputTable {
		return table().Write(w)
	}
	if err := SetKinds(scheme, obj); err != nil {
		return err
	}
	return PrintData(w, format, obj)
}

// SetKinds fills in apiVersion and kind of obj and, when obj is a list, of every item.
func SetKinds(scheme *runtime.Scheme, obj runtime.Object) error {
	if err := setKind(scheme, obj); err != nil {
		return err
	}
	if !meta.IsListType(obj) {
		return nil
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return err
	}
	for _, item := range items {
		if err := setKind(scheme, item); err != nil {
			return err
		}
	}
	// ExtractList hands back pointers into the list for typed lists, so the items are already
	// updated; SetList covers list types that return copies.
	return meta.SetList(obj, items)
}

func setKind(scheme *runtime.Scheme, obj runtime.Object) error {
	gvk, err := apiutil.GVKForObject(obj, scheme)
	if err != nil {
		return err
	}
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return nil
}
