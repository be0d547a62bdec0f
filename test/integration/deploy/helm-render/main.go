// Command helm-render renders a Helm chart's templates the way `helm template` does, for
// tests on machines without helm: Go's own text/template (the engine Helm uses), one
// template set with every file of templates/ (subdirectories too), missingkey=zero and "<no value>" removed,
// Helm's `include`, and the Sprig functions this chart uses, implemented to Sprig's
// semantics. It is not Helm: no subcharts, no hooks, no lookup, no Capabilities checks.
// toYaml output is semantically equal to Helm's (keys sorted, block style, sequences not
// indented under their key) but strings are always double-quoted.
//
// Input (stdin, JSON): {"chartDir", "values", "release", "chart", "extra": {name: text}}
// Output (stdout, JSON): {"files": {name: rendered}, "errors": {name: message}}
// Standard library only (Go 1.19).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/template"
)

type input struct {
	ChartDir string                 `json:"chartDir"`
	Values   map[string]interface{} `json:"values"`
	Release  map[string]interface{} `json:"release"`
	Chart    map[string]interface{} `json:"chart"`
	// Extra templates (e.g. a parent chart's pod template) rendered with the same values.
	Extra map[string]string `json:"extra"`
}

type output struct {
	Files  map[string]string `json:"files"`
	Errors map[string]string `json:"errors"`
}

func strval(v interface{}) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case error:
		return v.Error()
	case fmt.Stringer:
		return v.String()
	default:
		return fmt.Sprintf("%v", v)
	}
}

func toInt64(v interface{}) int64 {
	switch v := v.(type) {
	case nil:
		return 0
	case int:
		return int64(v)
	case int64:
		return v
	case float64:
		return int64(v)
	case bool:
		if v {
			return 1
		}
		return 0
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 0, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if ferr != nil {
				return 0
			}
			return int64(f)
		}
		return n
	default:
		return 0
	}
}

// empty follows Sprig's `empty`, which `default` uses.
func empty(given interface{}) bool {
	g := reflect.ValueOf(given)
	if !g.IsValid() {
		return true
	}
	switch g.Kind() {
	case reflect.Array, reflect.Slice, reflect.Map, reflect.String:
		return g.Len() == 0
	case reflect.Bool:
		return !g.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return g.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return g.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return g.Float() == 0
	case reflect.Struct:
		return false
	default:
		return g.IsNil()
	}
}

func dig(ps ...interface{}) (interface{}, error) {
	if len(ps) < 3 {
		return nil, errors.New("dig needs at least three arguments")
	}
	dict, ok := ps[len(ps)-1].(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("dig: last argument must be a map, got %T", ps[len(ps)-1])
	}
	def := ps[len(ps)-2]
	keys := ps[:len(ps)-2]
	var node interface{} = dict
	for _, k := range keys {
		m, ok := node.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("dig: %v is not a map", k)
		}
		v, has := m[strval(k)]
		if !has {
			return def, nil
		}
		node = v
	}
	return node, nil
}

// ---- toYaml: block YAML like sigs.k8s.io/yaml (go-yaml v2) -----------------------------

func yamlScalar(v interface{}) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int, int64:
		return fmt.Sprintf("%d", v)
	case string:
		b, _ := json.Marshal(v)
		return string(b)
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}

func yamlKey(k string) string {
	for _, r := range k {
		if !(r == '-' || r == '_' || r == '.' || r == '/' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')) {
			return yamlScalar(k)
		}
	}
	if k == "" || strings.ContainsAny(k[:1], "-0123456789.") {
		return yamlScalar(k)
	}
	switch strings.ToLower(k) {
	case "true", "false", "null", "yes", "no", "on", "off", "y", "n", "~":
		return yamlScalar(k)
	}
	return k
}

func writeYaml(b *strings.Builder, v interface{}, indent int) {
	pad := strings.Repeat(" ", indent)
	switch v := v.(type) {
	case map[string]interface{}:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			val := v[k]
			b.WriteString(pad + yamlKey(k) + ":")
			switch c := val.(type) {
			case map[string]interface{}:
				if len(c) == 0 {
					b.WriteString(" {}\n")
				} else {
					b.WriteString("\n")
					writeYaml(b, c, indent+2)
				}
			case []interface{}:
				if len(c) == 0 {
					b.WriteString(" []\n")
				} else {
					b.WriteString("\n")
					writeYaml(b, c, indent) // go-yaml v2: sequences are not indented under their key
				}
			default:
				b.WriteString(" " + yamlScalar(c) + "\n")
			}
		}
	case []interface{}:
		for _, item := range v {
			switch c := item.(type) {
			case map[string]interface{}:
				if len(c) == 0 {
					b.WriteString(pad + "- {}\n")
					continue
				}
				var inner strings.Builder
				writeYaml(&inner, c, indent+2)
				text := inner.String()
				b.WriteString(pad + "- " + strings.TrimPrefix(text, pad+"  "))
			case []interface{}:
				if len(c) == 0 {
					b.WriteString(pad + "- []\n")
					continue
				}
				var inner strings.Builder
				writeYaml(&inner, c, indent+2)
				b.WriteString(pad + "- " + strings.TrimPrefix(inner.String(), pad+"  "))
			default:
				b.WriteString(pad + "- " + yamlScalar(c) + "\n")
			}
		}
	default:
		b.WriteString(pad + yamlScalar(v) + "\n")
	}
}

func toYaml(v interface{}) string {
	var b strings.Builder
	switch v.(type) {
	case map[string]interface{}, []interface{}:
		if reflect.ValueOf(v).Len() == 0 {
			if _, isMap := v.(map[string]interface{}); isMap {
				return "{}"
			}
			return "[]"
		}
		writeYaml(&b, v, 0)
	default:
		b.WriteString(yamlScalar(v))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ---- the engine ---------------------------------------------------------------------

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fmt.Fprintln(os.Stderr, "helm-render: bad input:", err)
		os.Exit(2)
	}
	chartName := strval(in.Chart["Name"])

	var t *template.Template
	funcs := template.FuncMap{
		"include": func(name string, data interface{}) (string, error) {
			var buf strings.Builder
			if err := t.ExecuteTemplate(&buf, name, data); err != nil {
				return "", err
			}
			return buf.String(), nil
		},
		"default": func(d interface{}, given ...interface{}) interface{} {
			if len(given) == 0 || empty(given[0]) {
				return d
			}
			return given[0]
		},
		"trunc": func(c int, s string) string {
			if c < 0 && len(s)+c > 0 {
				return s[len(s)+c:]
			}
			if c >= 0 && len(s) > c {
				return s[:c]
			}
			return s
		},
		"trimSuffix": func(a, b string) string { return strings.TrimSuffix(b, a) },
		"contains":   func(substr, str string) bool { return strings.Contains(str, substr) },
		"replace":    func(old, new, src string) string { return strings.Replace(src, old, new, -1) },
		"quote": func(str ...interface{}) string {
			out := make([]string, 0, len(str))
			for _, s := range str {
				if s != nil {
					out = append(out, fmt.Sprintf("%q", strval(s)))
				}
			}
			return strings.Join(out, " ")
		},
		"toString": strval,
		"toYaml":   toYaml,
		"indent": func(n int, v string) string {
			pad := strings.Repeat(" ", n)
			return pad + strings.Replace(v, "\n", "\n"+pad, -1)
		},
		"nindent": func(n int, v string) string {
			pad := strings.Repeat(" ", n)
			return "\n" + pad + strings.Replace(v, "\n", "\n"+pad, -1)
		},
		"dig": dig,
		"int": func(v interface{}) int { return int(toInt64(v)) },
		"add": func(i ...interface{}) int64 {
			var a int64
			for _, b := range i {
				a += toInt64(b)
			}
			return a
		},
		"div":       func(a, b interface{}) int64 { return toInt64(a) / toInt64(b) },
		"fail":      func(msg string) (string, error) { return "", errors.New(msg) },
		"sha256sum": func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
		"dict": func(v ...interface{}) map[string]interface{} {
			d := map[string]interface{}{}
			for i := 0; i+1 < len(v); i += 2 {
				d[strval(v[i])] = v[i+1]
			}
			return d
		},
	}

	t = template.New("gotpl").Option("missingkey=zero").Funcs(funcs)
	out := output{Files: map[string]string{}, Errors: map[string]string{}}

	// Helm renders every file under templates/, subdirectories included (templates/tests/).
	dir := filepath.Join(in.ChartDir, "templates")
	var names []string
	walkErr := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		name := chartName + "/templates/" + filepath.ToSlash(rel)
		if _, err := t.New(name).Parse(string(text)); err != nil {
			out.Errors[name] = "parse: " + err.Error()
			return nil
		}
		if !strings.HasPrefix(e.Name(), "_") {
			names = append(names, name)
		}
		return nil
	})
	if walkErr != nil {
		fmt.Fprintln(os.Stderr, "helm-render:", walkErr)
		os.Exit(2)
	}
	for name, text := range in.Extra {
		if _, err := t.New(name).Parse(text); err != nil {
			out.Errors[name] = "parse: " + err.Error()
			continue
		}
		names = append(names, name)
	}
	sort.Strings(names)

	for _, name := range names {
		if _, failed := out.Errors[name]; failed {
			continue
		}
		data := map[string]interface{}{
			"Values":       in.Values,
			"Release":      in.Release,
			"Chart":        in.Chart,
			"Capabilities": map[string]interface{}{},
			"Files":        map[string]interface{}{},
			"Template":     map[string]interface{}{"Name": name, "BasePath": chartName + "/templates"},
		}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, data); err != nil {
			out.Errors[name] = err.Error()
			continue
		}
		out.Files[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}

	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(2)
	}
}
