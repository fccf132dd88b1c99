package acl

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a policy configuration error. Line is the YAML line it was found
// at (0 for a Config built in Go), so the gateway can prefix its file name.
type Error struct {
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return e.Msg
}

func errAt(n *yaml.Node, format string, args ...any) *Error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return &Error{Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ParsePolicyYAML compiles a policy from YAML text: either the acl block's
// content (default, rules, ...) or a document with an acl key.
func ParsePolicyYAML(b []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	n := resolve(&doc)
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "acl" {
				n = n.Content[i+1]
				break
			}
		}
	}
	return LoadPolicy(n)
}

// LoadPolicy decodes and compiles the content of an acl block.
func LoadPolicy(n *yaml.Node) (*Policy, error) {
	var c Config
	if err := c.UnmarshalYAML(n); err != nil {
		return nil, err
	}
	return Compile(c)
}

// resolve follows documents and aliases to the node they stand for.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		default:
			return n
		}
	}
	return &yaml.Node{}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// fields walks a mapping, rejecting duplicate and unknown keys with their
// line, so a typo such as max_pair is an error rather than a silent no-op.
func fields(n *yaml.Node, where string, known []string, f func(key string, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		return errAt(n, "%s: want a mapping", where)
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		key := k.Value
		ok := false
		for _, kn := range known {
			ok = ok || kn == key
		}
		if !ok {
			return errAt(k, "%s: unknown key %q (want %s)", where, key, strings.Join(known, ", "))
		}
		if seen[key] {
			return errAt(k, "%s: %s given twice", where, key)
		}
		seen[key] = true
		if err := f(key, v); err != nil {
			return err
		}
	}
	return nil
}

func scalar(n *yaml.Node, where string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", errAt(n, "%s: want a single value", where)
	}
	return n.Value, nil
}

func intField(n *yaml.Node, where string, lo, hi int) (int, error) {
	s, err := scalar(n, where)
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		return 0, errAt(n, "%s: %q: want an integer %d-%d", where, s, lo, hi)
	}
	return v, nil
}

func actionField(n *yaml.Node, where string) (Action, error) {
	s, err := scalar(n, where)
	if err != nil {
		return 0, err
	}
	a, err := ParseAction(s)
	if err != nil {
		return 0, errAt(n, "%s: %v", where, err)
	}
	return a, nil
}

// UnmarshalYAML decodes the content of an acl block, checking everything
// but the cross-field rules Compile checks. It walks the yaml.Node tree
// itself so each error carries the line it is about.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	n = resolve(n)
	*c = Config{line: n.Line}
	if isNull(n) {
		return errAt(n, "acl: empty block; say at least default: allow or default: deny")
	}
	return fields(n, "acl", []string{"default", "rules", "rate", "max_pairs", "max_pairs_per_source", "on_limit"},
		func(key string, v *yaml.Node) (err error) {
			switch key {
			case "default":
				c.Default, err = actionField(v, "acl: default")
			case "on_limit":
				c.OnLimit, err = actionField(v, "acl: on_limit")
				if err == nil && c.OnLimit == Allow {
					err = errAt(v, "acl: on_limit: want deny or drop")
				}
			case "max_pairs":
				c.MaxPairs, err = intField(v, "acl: max_pairs", 0, 1<<31-1)
			case "max_pairs_per_source":
				c.MaxPairsPerSource, err = intField(v, "acl: max_pairs_per_source", 0, 1<<31-1)
			case "rules":
				err = c.decodeRules(v)
			case "rate":
				err = c.decodeRate(v)
			}
			return err
		})
}

func (c *Config) decodeRules(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return errAt(n, "acl: rules: want a list of rules")
	}
	if len(n.Content) > MaxRules {
		return errAt(n, "acl: rules: %d rules, more than %d", len(n.Content), MaxRules)
	}
	for i, item := range n.Content {
		item = resolve(item)
		var r Rule
		switch item.Kind {
		case yaml.ScalarNode:
			var err error
			if r, err = ParseRule(item.Value); err != nil {
				return errAt(item, "rule %d %q: %v", i+1, item.Value, err)
			}
		case yaml.MappingNode:
			var err error
			if r, err = decodeRuleMapping(item, i); err != nil {
				return err
			}
		default:
			return errAt(item, "rule %d: want a rule such as \"allow from 198.18.0.0/15 port 36412\" or a mapping", i+1)
		}
		c.Rules = append(c.Rules, r)
		c.ruleLines = append(c.ruleLines, item.Line)
	}
	return nil
}

// decodeRuleMapping reads {action: allow, from: ..., sport: ..., port: ...,
// link: ...}, the same rule as the one-line form.
func decodeRuleMapping(n *yaml.Node, i int) (Rule, error) {
	var r Rule
	portSeen := false // port and dport are one field
	where := "rule " + strconv.Itoa(i+1)
	// A one-line rule with ": " in it (fe80:: port 1) is read by YAML as a
	// one-key mapping; say so rather than report an unknown key.
	if len(n.Content) == 2 && strings.ContainsAny(resolve(n.Content[0]).Value, " \t") {
		return r, errAt(n, "%s: YAML read this as a mapping because it contains \": \"; quote the rule", where)
	}
	err := fields(n, where, []string{"action", "from", "sport", "port", "dport", "link"}, func(key string, v *yaml.Node) error {
		s, err := scalar(v, where+": "+key)
		if err != nil {
			return err
		}
		switch key {
		case "action":
			r.Action, err = ParseAction(s)
		case "from":
			r.From, err = parseFrom(s)
		case "sport":
			r.SPort, err = ParsePortRange(s)
		case "port", "dport":
			if portSeen {
				return errAt(v, "%s: port given twice", where)
			}
			portSeen = true
			r.Port, err = ParsePortRange(s)
		case "link":
			r.Link, err = ParseLinkKind(s)
		}
		if err != nil {
			return errAt(v, "%s: %s: %v", where, key, err)
		}
		return nil
	})
	if err == nil && r.Action == 0 {
		err = errAt(n, "%s: action is required (allow, deny or drop)", where)
	}
	return r, err
}

func (c *Config) decodeRate(n *yaml.Node) error {
	if isNull(n) {
		return nil
	}
	return fields(n, "acl: rate", []string{"per_source", "total"}, func(key string, v *yaml.Node) error {
		where := "acl: rate." + key
		if key == "total" {
			r, err := decodeBucket(v, where, nil)
			c.Total = &r
			return err
		}
		s := &SourceRate{}
		r, err := decodeBucket(v, where, func(key string, v *yaml.Node) (err error) {
			switch key {
			case "prefix_v4":
				s.PrefixV4, err = intField(v, where+".prefix_v4", 1, 32)
			case "prefix_v6":
				s.PrefixV6, err = intField(v, where+".prefix_v6", 1, 128)
			case "max_sources":
				s.MaxSources, err = intField(v, where+".max_sources", 1, MaxSourcesCap)
			}
			return err
		})
		s.Rate = r
		c.PerSource = s
		return err
	})
}

// decodeBucket reads {rate: 50/s, burst: 100} plus, for per_source, the
// keys extra handles.
func decodeBucket(n *yaml.Node, where string, extra func(string, *yaml.Node) error) (Rate, error) {
	var r Rate
	known := []string{"rate", "burst"}
	if extra != nil {
		known = append(known, "prefix_v4", "prefix_v6", "max_sources")
	}
	hasRate := false
	err := fields(n, where, known, func(key string, v *yaml.Node) error {
		switch key {
		case "rate":
			s, err := scalar(v, where+".rate")
			if err != nil {
				return err
			}
			if r.PerSecond, err = ParseRate(s); err != nil {
				return errAt(v, "%s: %v", where, err)
			}
			hasRate = true
		case "burst":
			var err error
			r.Burst, err = intField(v, where+".burst", 1, 1<<31-1)
			return err
		default:
			return extra(key, v)
		}
		return nil
	})
	if err == nil && !hasRate {
		err = errAt(n, "%s: rate is required, e.g. rate: 50/s", where)
	}
	return r, err
}
