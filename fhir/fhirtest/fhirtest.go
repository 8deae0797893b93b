// Package fhirtest checks FHIR R5 JSON against the official HL7 definitions, for tests: the R5
// JSON Schema (fhir.schema.json) and the StructureDefinition snapshots of the resources
// cordtrace emits, both vendored unchanged from the hl7.fhir.r5.core 5.0.0 package (see
// testdata/README.md). Only tests import it, so the definitions never reach the binary.
package fhirtest

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed testdata/*.gz
var defs embed.FS

// SchemaID is the id the R5 JSON Schema declares.
const SchemaID = "http://hl7.org/fhir/json-schema/5.0"

var (
	once    sync.Once
	schema  *jsonschema.Schema
	snaps   map[string][]element
	loadErr error
)

type element struct {
	Path string `json:"path"`
	Min  int    `json:"min"`
	Type []struct {
		Code string `json:"code"`
	} `json:"type"`
	Binding *struct {
		Strength string `json:"strength"`
		ValueSet string `json:"valueSet"`
	} `json:"binding"`
	// codes is the value set of a required binding on a code element, nil when there is none.
	codes map[string]bool
}

func gunzip(name string) ([]byte, error) {
	f, err := defs.Open("testdata/" + name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return io.ReadAll(zr)
}

func load() {
	raw, err := gunzip("fhir.schema.json.gz")
	if err != nil {
		loadErr = err
		return
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		loadErr = fmt.Errorf("fhir.schema.json: %w", err)
		return
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		loadErr = err
		return
	}
	if schema, err = c.Compile(SchemaID); err != nil {
		loadErr = fmt.Errorf("compile fhir.schema.json: %w", err)
		return
	}
	entries, err := defs.ReadDir("testdata")
	if err != nil {
		loadErr = err
		return
	}
	snaps = map[string][]element{}
	for _, e := range entries {
		typ, ok := strings.CutPrefix(e.Name(), "StructureDefinition-")
		if !ok {
			continue
		}
		typ = strings.TrimSuffix(typ, ".json.gz")
		raw, err := gunzip(e.Name())
		if err != nil {
			loadErr = err
			return
		}
		var sd struct {
			FHIRVersion string `json:"fhirVersion"`
			Snapshot    struct {
				Element []element `json:"element"`
			} `json:"snapshot"`
		}
		if err := json.Unmarshal(raw, &sd); err != nil {
			loadErr = fmt.Errorf("%s: %w", e.Name(), err)
			return
		}
		if sd.FHIRVersion != "5.0.0" {
			loadErr = fmt.Errorf("%s is FHIR %s, not 5.0.0", e.Name(), sd.FHIRVersion)
			return
		}
		for i, el := range sd.Snapshot.Element {
			if el.Binding == nil || el.Binding.Strength != "required" || len(el.Type) != 1 || el.Type[0].Code != "code" ||
				notEnumerable(el.Binding.ValueSet) {
				continue
			}
			if sd.Snapshot.Element[i].codes, err = valueSetCodes(el.Binding.ValueSet); err != nil {
				loadErr = fmt.Errorf("%s: %s: %w", e.Name(), el.Path, err)
				return
			}
		}
		snaps[typ] = sd.Snapshot.Element
	}
}

// notEnumerable reports the required value sets that stand for an outside code system with no
// list of codes: all-languages (BCP 47 language tags) and mimetypes (BCP 13 media types). The
// JSON Schema still checks that their values are codes.
func notEnumerable(valueSet string) bool {
	return strings.HasPrefix(valueSet, "http://hl7.org/fhir/ValueSet/all-languages") ||
		strings.HasPrefix(valueSet, "http://hl7.org/fhir/ValueSet/mimetypes")
}

// valueSetCodes expands a vendored value set: its listed concepts, or every code of a vendored
// code system it includes whole.
func valueSetCodes(url string) (map[string]bool, error) {
	url, _, _ = strings.Cut(url, "|")
	raw, err := gunzip("ValueSet-" + url[strings.LastIndex(url, "/")+1:] + ".json.gz")
	if err != nil {
		return nil, fmt.Errorf("value set %s is not vendored: %w", url, err)
	}
	var vs struct {
		Compose struct {
			Include []struct {
				System  string                  `json:"system"`
				Concept []struct{ Code string } `json:"concept"`
				Filter  []any                   `json:"filter"`
			} `json:"include"`
		} `json:"compose"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		return nil, err
	}
	codes := map[string]bool{}
	for _, inc := range vs.Compose.Include {
		if len(inc.Filter) > 0 {
			return nil, fmt.Errorf("value set %s uses a filter, which this checker does not expand", url)
		}
		if len(inc.Concept) > 0 {
			for _, c := range inc.Concept {
				codes[c.Code] = true
			}
			continue
		}
		if err := codeSystemCodes(inc.System, codes); err != nil {
			return nil, err
		}
	}
	return codes, nil
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

func codeSystemCodes(url string, into map[string]bool) error {
	entries, err := defs.ReadDir("testdata")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "CodeSystem-") {
			continue
		}
		raw, err := gunzip(e.Name())
		if err != nil {
			return err
		}
		var cs struct {
			URL     string    `json:"url"`
			Concept []concept `json:"concept"`
		}
		if err := json.Unmarshal(raw, &cs); err != nil {
			return err
		}
		if cs.URL != url {
			continue
		}
		var walk func([]concept)
		walk = func(cs []concept) {
			for _, c := range cs {
				into[c.Code] = true
				walk(c.Concept)
			}
		}
		walk(cs.Concept)
		return nil
	}
	return fmt.Errorf("code system %s is not vendored", url)
}

// Validate checks one resource (a Bundle's entries included) against the R5 JSON Schema,
// the minimum cardinalities of the R5 StructureDefinitions, and the Bundle invariants that
// apply to read-only bundles (bdl-1, bdl-2, bdl-3a, bdl-7, bdl-15, bdl-18); local references
// ("Type/id") inside a Bundle must resolve to one of its entries. It returns every problem.
func Validate(data []byte) error {
	once.Do(load)
	if loadErr != nil {
		return loadErr
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	var problems []error
	if err := schema.Validate(inst); err != nil {
		problems = append(problems, fmt.Errorf("R5 JSON Schema: %w", err))
	}
	var res map[string]any
	if err := json.Unmarshal(data, &res); err != nil {
		return errors.Join(append(problems, err)...)
	}
	problems = append(problems, checkResource(res, "")...)
	if res["resourceType"] == "Bundle" {
		problems = append(problems, checkBundle(res)...)
	}
	return errors.Join(problems...)
}

// Types lists the resource types whose StructureDefinitions are vendored.
func Types() []string {
	once.Do(load)
	var out []string
	for t := range snaps {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func checkResource(res map[string]any, where string) []error {
	typ, _ := res["resourceType"].(string)
	if where == "" {
		where = typ
		if id, ok := res["id"].(string); ok {
			where += "/" + id
		}
	}
	elems, ok := snaps[typ]
	if !ok {
		return []error{fmt.Errorf("%s: no vendored StructureDefinition for %q; add it to fhirtest/testdata", where, typ)}
	}
	var problems []error
	for _, e := range elems {
		if e.codes != nil {
			parts := strings.Split(e.Path, ".")[1:]
			name := parts[len(parts)-1]
			for _, node := range nodesAt(res, parts[:len(parts)-1]) {
				for _, v := range asList(node[name]) {
					if s, _ := v.(string); !e.codes[s] {
						problems = append(problems, fmt.Errorf("%s: %s = %v is not in its required value set %s", where, e.Path, v, e.Binding.ValueSet))
					}
				}
			}
		}
		if e.Min < 1 || !strings.Contains(e.Path, ".") {
			continue
		}
		i := strings.LastIndex(e.Path, ".")
		parent, name := e.Path[:i], e.Path[i+1:]
		for _, node := range nodesAt(res, strings.Split(parent, ".")[1:]) {
			if !present(node, name, e) {
				problems = append(problems, fmt.Errorf("%s: %s is required (cardinality %d..) by the R5 StructureDefinition", where, e.Path, e.Min))
			}
		}
	}
	if typ == "Bundle" {
		for i, en := range asList(res["entry"]) {
			m, _ := en.(map[string]any)
			if r, ok := m["resource"].(map[string]any); ok {
				problems = append(problems, checkResource(r, fmt.Sprintf("%s entry[%d]", where, i))...)
			}
		}
	}
	return problems
}

// nodesAt returns the JSON objects at a path of element names below obj.
func nodesAt(obj map[string]any, path []string) []map[string]any {
	if len(path) == 0 {
		return []map[string]any{obj}
	}
	var out []map[string]any
	for _, v := range asList(obj[path[0]]) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, nodesAt(m, path[1:])...)
		}
	}
	return out
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func present(node map[string]any, name string, e element) bool {
	if base, ok := strings.CutSuffix(name, "[x]"); ok {
		for _, t := range e.Type {
			code := []rune(t.Code)
			code[0] = unicode.ToUpper(code[0])
			if _, ok := node[base+string(code)]; ok {
				return true
			}
			if _, ok := node["_"+base+string(code)]; ok {
				return true
			}
		}
		return false
	}
	if _, ok := node[name]; ok {
		return true
	}
	_, ok := node["_"+name]
	return ok
}

func checkBundle(b map[string]any) []error {
	var problems []error
	typ, _ := b["type"].(string)
	bad := func(format string, args ...any) { problems = append(problems, fmt.Errorf("Bundle "+format, args...)) }
	if _, ok := b["total"]; ok && typ != "searchset" && typ != "history" {
		bad("bdl-1: total only when a search or history")
	}
	if typ == "searchset" {
		self := false
		for _, l := range asList(b["link"]) {
			if m, _ := l.(map[string]any); m["relation"] == "self" {
				self = true
			}
		}
		if !self {
			bad("bdl-18: a searchset needs a self link")
		}
	}
	fullURLs := map[string]bool{}
	local := map[string]bool{}
	for i, en := range asList(b["entry"]) {
		m, _ := en.(map[string]any)
		if _, ok := m["search"]; ok && typ != "searchset" {
			bad("bdl-2: entry[%d].search only when a search", i)
		}
		r, hasResource := m["resource"].(map[string]any)
		_, req := m["request"]
		_, resp := m["response"]
		if slices.Contains([]string{"document", "message", "searchset", "collection"}, typ) && (!hasResource || req || resp) {
			bad("bdl-3a: entry[%d] must hold a resource and no request or response", i)
		}
		u, _ := m["fullUrl"].(string)
		if u == "" {
			bad("bdl-15: entry[%d] needs a fullUrl", i)
		} else if fullURLs[u] {
			bad("bdl-7: fullUrl %s appears twice", u)
		}
		fullURLs[u] = true
		if hasResource {
			local[fmt.Sprint(r["resourceType"], "/", r["id"])] = true
		}
	}
	for _, en := range asList(b["entry"]) {
		m, _ := en.(map[string]any)
		r, _ := m["resource"].(map[string]any)
		for _, ref := range references(r) {
			if !strings.Contains(ref, ":") && !local[ref] {
				bad("reference %s in %s/%v resolves to no entry", ref, r["resourceType"], r["id"])
			}
		}
	}
	return problems
}

// references collects every Reference.reference below v.
func references(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if s, ok := c.(string); ok && k == "reference" {
				out = append(out, s)
				continue
			}
			out = append(out, references(c)...)
		}
	case []any:
		for _, c := range x {
			out = append(out, references(c)...)
		}
	}
	return out
}
