package gateway

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/sctpgw/sctpgw/acl"
)

// decodeNode decodes n into v field by field, so a value of the wrong type
// is reported with the path of its field (routes[0].sctp.max_retrans), the
// value and what the field expects, where yaml.v3 alone names only a Go
// type and a line. Unknown and repeated keys are errors too.
func decodeNode(n *yaml.Node, v reflect.Value, path string) error {
	n = resolveNode(n)
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if isNullNode(n) && v.Kind() != reflect.Struct {
			return nil
		}
		if err := u.UnmarshalYAML(n); err != nil {
			return fieldError(n, path, err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNullNode(n) && v.Type().Elem().Kind() == reflect.String {
			// A key given with no value (admin:) is given, empty: a
			// *string tells it from a key not given at all (nil).
			v.Set(reflect.New(v.Type().Elem()))
			return nil
		}
		if isNullNode(n) {
			v.SetZero()
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := decodeNode(n, p.Elem(), path); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return decodeStruct(n, v, path)
	case reflect.Slice:
		if isNullNode(n) {
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return typeError(n, path, "a list")
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			if err := decodeNode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case reflect.Map:
		if isNullNode(n) {
			return nil
		}
		if n.Kind != yaml.MappingNode {
			return typeError(n, path, "a mapping")
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolveNode(n.Content[i])
			key := reflect.New(v.Type().Key()).Elem()
			if err := decodeNode(k, key, path); err != nil {
				return err
			}
			if m.MapIndex(key).IsValid() {
				return fieldError(k, join(path, k.Value), errors.New("given twice"))
			}
			val := reflect.New(v.Type().Elem()).Elem()
			if err := decodeNode(n.Content[i+1], val, join(path, k.Value)); err != nil {
				return err
			}
			m.SetMapIndex(key, val)
		}
		v.Set(m)
		return nil
	}
	return decodeScalar(n, v, path)
}

func decodeStruct(n *yaml.Node, v reflect.Value, path string) error {
	if isNullNode(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return typeError(n, path, "a mapping")
	}
	t := v.Type()
	var known []string
	byKey := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			byKey[tag] = i
			known = append(known, tag)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolveNode(n.Content[i])
		fp := join(path, k.Value)
		fi, ok := byKey[k.Value]
		if !ok {
			return fieldError(k, fp, fmt.Errorf("unknown field; expected one of %s", strings.Join(known, ", ")))
		}
		if seen[k.Value] {
			return fieldError(k, fp, errors.New("given twice"))
		}
		seen[k.Value] = true
		if err := decodeNode(n.Content[i+1], v.Field(fi), fp); err != nil {
			return err
		}
	}
	return nil
}

// decodeScalar lets yaml.v3 read a single value and words its refusal.
func decodeScalar(n *yaml.Node, v reflect.Value, path string) error {
	want := expected(v.Type())
	if isNullNode(n) {
		v.SetZero()
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return typeError(n, path, want)
	}
	// yaml.v3 truncates 1.5 into an int; a setting must say what it means.
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if tag != "!!int" {
			return typeError(n, path, want)
		}
	case reflect.Bool:
		if tag != "!!bool" {
			return typeError(n, path, want)
		}
	}
	p := reflect.New(v.Type())
	if err := n.Decode(p.Interface()); err != nil {
		return typeError(n, path, want)
	}
	v.Set(p.Elem())
	return nil
}

func expected(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

func typeError(n *yaml.Node, path, want string) error {
	return fieldError(n, path, fmt.Errorf("%s: expected %s", describeNode(n), want))
}

// fieldError puts the line and the field path before err.
func fieldError(n *yaml.Node, path string, err error) error {
	if path == "" {
		path = "(document)"
	}
	// A policy error carries the line of the rule it is about.
	var ae *acl.Error
	if errors.As(err, &ae) && ae.Line > 0 {
		return fmt.Errorf("line %d: %s: %s", ae.Line, path, strings.TrimPrefix(ae.Msg, "acl: "))
	}
	return fmt.Errorf("line %d: %s: %w", n.Line, path, err)
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if len(v) > 64 {
		v = v[:64] + "..."
	}
	return fmt.Sprintf("%q", v)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func resolveNode(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && i < 64; i++ {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		default:
			return n
		}
	}
	if n == nil {
		return &yaml.Node{}
	}
	return n
}

func isNullNode(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.DocumentNode && len(n.Content) == 0 ||
		n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}
