// chartrender renders a Helm chart's templates the way `helm template` does, for the chart test
// (test/integration/pull-secrets-packaging.test.ts) on machines without helm (Debian has no helm
// package). It is Go's own text/template with Masterminds/sprig, the function library helm uses,
// plus helm's own functions (include, tpl, required, toYaml, fromYaml, toJson, lookup) defined as
// helm's engine defines them, and values coalesced like helm's (maps merged, the rest replaced).
// Missing keys are errors (helm lint --strict). Not covered: subcharts, .Files, .Capabilities
// beyond a fixed version, hooks, NOTES.txt, schema validation.
//
// Usage: chartrender CHART_DIR RELEASE NAMESPACE [VALUES_FILE...]  → the manifests on stdout.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

func readYaml(file string) map[string]interface{} {
	data, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		fail(fmt.Errorf("%s: %v", file, err))
	}
	return out
}

// coalesce merges src over dst: nested maps merge, anything else replaces, null deletes (helm's rule).
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dm, sm)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "chartrender:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 4 {
		fail(fmt.Errorf("usage: chartrender CHART_DIR RELEASE NAMESPACE [VALUES_FILE...]"))
	}
	dir, release, namespace := os.Args[1], os.Args[2], os.Args[3]
	chart := readYaml(filepath.Join(dir, "Chart.yaml"))
	name, _ := chart["name"].(string)
	values := readYaml(filepath.Join(dir, "values.yaml"))
	for _, f := range os.Args[4:] {
		values = coalesce(values, readYaml(f))
	}

	root := template.New("gotpl").Option("missingkey=error")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	funcs["toYaml"] = func(v interface{}) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	funcs["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	funcs["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, fmt.Errorf(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, fmt.Errorf(msg)
		}
		return v, nil
	}
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	funcs["include"] = func(string, interface{}) (string, error) { return "", nil }
	funcs["tpl"] = func(string, interface{}) (string, error) { return "", nil }
	root.Funcs(funcs)

	files, err := filepath.Glob(filepath.Join(dir, "templates", "*"))
	if err != nil {
		fail(err)
	}
	sort.Strings(files)
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		tname := name + "/templates/" + filepath.Base(f)
		if _, err := root.New(tname).Parse(string(data)); err != nil {
			fail(err)
		}
		if !strings.HasPrefix(filepath.Base(f), "_") && (strings.HasSuffix(f, ".yaml") || strings.HasSuffix(f, ".yml")) {
			names = append(names, tname)
		}
	}
	// include and tpl need the parsed set, as in helm's engine.
	root.Funcs(template.FuncMap{
		"include": func(n string, data interface{}) (string, error) {
			var buf bytes.Buffer
			err := root.ExecuteTemplate(&buf, n, data)
			return buf.String(), err
		},
		"tpl": func(text string, data interface{}) (string, error) {
			t, err := root.Clone()
			if err != nil {
				return "", err
			}
			t, err = t.New("tpl").Parse(text)
			if err != nil {
				return "", err
			}
			var buf bytes.Buffer
			err = t.Execute(&buf, data)
			return buf.String(), err
		},
	})

	var out bytes.Buffer
	for _, n := range names {
		data := map[string]interface{}{
			"Values":  values,
			"Release": map[string]interface{}{"Name": release, "Namespace": namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
			"Chart":   map[string]interface{}{"Name": name, "Version": chart["version"], "AppVersion": chart["appVersion"]},
			"Capabilities": map[string]interface{}{
				"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"},
			},
			"Template": map[string]interface{}{"Name": n, "BasePath": name + "/templates"},
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, n, data); err != nil {
			fail(err)
		}
		if strings.TrimSpace(buf.String()) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, strings.TrimSpace(buf.String()))
	}
	os.Stdout.Write(out.Bytes())
}
