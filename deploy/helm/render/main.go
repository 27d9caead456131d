// Renders a Helm chart's templates the way `helm template` does, for the chart tests on
// machines without the helm binary (docs/deploy.md says what this covers). It reproduces Helm
// 3's engine (pkg/engine/engine.go): Go's text/template with Sprig v3's functions minus env and
// expandenv, Helm's include, tpl, required, toYaml, fromYaml, toJson, fromJson; missingkey=zero
// with "<no value>" removed; values from values.yaml coalesced with each -f file (later files
// win, null deletes a key); .Release, .Chart, .Capabilities, .Template. Not reproduced: .Files,
// lookup (always empty here, as in `helm template`), subcharts, schema validation.
//
// Usage: render CHART_DIR [-f values.yaml]... [--name RELEASE] [--namespace NS]
// Prints the manifests as `helm template` does (`---` and `# Source:` before each).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/ghodss/yaml"
)

func readYaml(file string) map[string]interface{} {
	data, err := os.ReadFile(file)
	if err != nil {
		die("%v", err)
	}
	out := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &out); err != nil {
		die("%s: %v", file, err)
	}
	if out == nil {
		out = map[string]interface{}{}
	}
	return out
}

func die(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "render: "+format+"\n", a...)
	os.Exit(1)
}

// coalesce merges src over dst as Helm's chartutil.CoalesceTables does for user values.
func coalesce(dst, src map[string]interface{}) map[string]interface{} {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		sv, sok := v.(map[string]interface{})
		dv, dok := dst[k].(map[string]interface{})
		if sok && dok {
			dst[k] = coalesce(dv, sv)
		} else {
			dst[k] = v
		}
	}
	return dst
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func toJSON(v interface{}) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

func fromJSON(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

func main() {
	var chartDir, release, namespace = "", "release-name", "default"
	var valueFiles []string
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-f", "--values":
			i++
			valueFiles = append(valueFiles, args[i])
		case "--name":
			i++
			release = args[i]
		case "--namespace":
			i++
			namespace = args[i]
		default:
			chartDir = args[i]
		}
	}
	if chartDir == "" {
		die("usage: render CHART_DIR [-f values.yaml]... [--name RELEASE] [--namespace NS]")
	}
	meta := readYaml(filepath.Join(chartDir, "Chart.yaml"))
	values := readYaml(filepath.Join(chartDir, "values.yaml"))
	for _, f := range valueFiles {
		values = coalesce(values, readYaml(f))
	}
	chart := map[string]interface{}{}
	for k, v := range meta {
		// Helm hands templates its Metadata struct: .Chart.Name, .Chart.AppVersion...
		chart[strings.ToUpper(k[:1])+k[1:]] = v
	}
	top := map[string]interface{}{
		"Values": values,
		"Chart":  chart,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "Service": "Helm",
			"IsInstall": true, "IsUpgrade": false, "Revision": 1,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{"Version": "v1.30.0", "Major": "1", "Minor": "30"},
			"APIVersions": []string{},
		},
	}

	name := meta["name"].(string)
	root := template.New("gotpl").Option("missingkey=zero")
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	includedNames := map[string]int{}
	funcs["include"] = func(n string, data interface{}) (string, error) {
		if includedNames[n] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", n)
		}
		includedNames[n]++
		var buf bytes.Buffer
		err := root.ExecuteTemplate(&buf, n, data)
		includedNames[n]--
		return buf.String(), err
	}
	funcs["tpl"] = func(text string, data interface{}) (string, error) {
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
		return strings.ReplaceAll(buf.String(), "<no value>", ""), err
	}
	funcs["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, fmt.Errorf(warn)
		} else if s, ok := val.(string); ok && s == "" {
			return val, fmt.Errorf(warn)
		}
		return val, nil
	}
	funcs["toYaml"] = toYAML
	funcs["fromYaml"] = fromYAML
	funcs["toJson"] = toJSON
	funcs["fromJson"] = fromJSON
	funcs["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	root.Funcs(funcs)

	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	if err != nil {
		die("%v", err)
	}
	sort.Strings(files)
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			die("%v", err)
		}
		n := name + "/templates/" + filepath.Base(f)
		if _, err := root.New(n).Parse(string(data)); err != nil {
			die("parse error in %v", err)
		}
		names = append(names, n)
	}
	var out strings.Builder
	for _, n := range names {
		base := filepath.Base(n)
		if strings.HasPrefix(base, "_") || base == "NOTES.txt" {
			continue
		}
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": n, "BasePath": name + "/templates"}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, n, vals); err != nil {
			die("%v", err)
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", n, text)
	}
	fmt.Print(out.String())
}
