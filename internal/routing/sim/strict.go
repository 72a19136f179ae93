package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

	"github.com/kanal-dev/kanal/internal/routing"
)

// strictFormer is implemented by types that accept several JSON shapes (a
// number or an object, …): it returns a value of the type the given JSON
// value must match.
type strictFormer interface {
	StrictForm(v any) any
}

var strictFormerType = reflect.TypeFor[strictFormer]()

// DecodeStrict decodes JSON into v (a pointer to a struct). Unknown fields
// and values of the wrong type are errors naming their path
// (agents[3].capacity.total_units: unknown field); every such problem is
// reported, as routing.Problems.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return syntaxError(data, err)
	}
	if _, err := dec.Token(); err == nil {
		return fmt.Errorf("unexpected data after the top-level value")
	}
	var ps routing.Problems
	checkShape(raw, reflect.TypeOf(v).Elem(), "", &ps)
	if len(ps) > 0 {
		return ps
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

func syntaxError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, c := range data[:max(min(int(se.Offset)-1, len(data)), 0)] { // Offset is just past the bad byte
			if c == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
		return fmt.Errorf("line %d, column %d: %v", line, col, se)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("empty or truncated JSON")
	}
	return fmt.Errorf("invalid JSON: %v", err)
}

func add(ps *routing.Problems, path, rule string) {
	*ps = append(*ps, routing.Problem{Path: path, Rule: rule})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func checkShape(v any, t reflect.Type, path string, ps *routing.Problems) {
	if v == nil {
		return // null is "absent"
	}
	if t.Implements(strictFormerType) {
		f := reflect.Zero(t).Interface().(strictFormer).StrictForm(v)
		checkShape(v, reflect.TypeOf(f), path, ps)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkShape(v, t.Elem(), path, ps)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			add(ps, path, "must be an object")
			return
		}
		fields := map[string]reflect.Type{}
		collectFields(t, fields)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				add(ps, join(path, k), "unknown field")
				continue
			}
			checkShape(m[k], ft, join(path, k), ps)
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			add(ps, path, "must be an object")
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			checkShape(m[k], t.Elem(), join(path, k), ps)
		}
	case reflect.Slice, reflect.Array:
		l, ok := v.([]any)
		if !ok {
			add(ps, path, "must be a list")
			return
		}
		for i, x := range l {
			checkShape(x, t.Elem(), fmt.Sprintf("%s[%d]", path, i), ps)
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			add(ps, path, "must be a string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			add(ps, path, "must be true or false")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			add(ps, path, "must be a number")
			return
		}
		if _, err := n.Int64(); err != nil {
			add(ps, path, "must be a whole number")
		} else if t.Kind() >= reflect.Uint && strings.HasPrefix(n.String(), "-") {
			add(ps, path, "must be ≥ 0")
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			add(ps, path, "must be a number")
		}
	case reflect.Interface:
		// any JSON value
	}
}

// collectFields maps a struct's JSON names to their types, including the
// fields of embedded structs.
func collectFields(t reflect.Type, out map[string]reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				collectFields(ft, out)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
}
