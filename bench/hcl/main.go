// hcl_bench: what Terraform's configuration loader does with the generated
// platform, using the HCL library Terraform uses (Debian's
// golang-github-hashicorp-hcl-v2-dev): parse every *.tf file, decode the
// top-level blocks with gohcl, then evaluate every resource's attributes
// (for_each expanded) against variables, locals and the other resources,
// whose computed attributes (id, uri, status) are unknown, as in a plan.
//
//	hcl_bench DIR
//
// Prints the counts (instances, attributes, references) on one line; exits
// 1 with the diagnostics on any error.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
)

type root struct {
	Variables []*variable `hcl:"variable,block"`
	Locals    []*locals   `hcl:"locals,block"`
	Providers []*provider `hcl:"provider,block"`
	Resources []*resource `hcl:"resource,block"`
}

type variable struct {
	Name      string         `hcl:"name,label"`
	Type      hcl.Expression `hcl:"type,optional"`
	Default   cty.Value      `hcl:"default,optional"`
	Sensitive bool           `hcl:"sensitive,optional"`
}

type locals struct {
	Body hcl.Body `hcl:",remain"`
}

type provider struct {
	Name string   `hcl:"name,label"`
	Body hcl.Body `hcl:",remain"`
}

type resource struct {
	Type   string   `hcl:"type,label"`
	Name   string   `hcl:"name,label"`
	Config hcl.Body `hcl:",remain"`
}

var computed = []string{"id", "uri", "status"}

type counts struct{ objects, attributes, references int }

func fail(diags hcl.Diagnostics, files map[string]*hcl.File) {
	wr := hcl.NewDiagnosticTextWriter(os.Stderr, files, 100, false)
	wr.WriteDiagnostics(diags)
	os.Exit(1)
}

// refersToResources says whether any attribute reads another resource.
func refersToResources(attrs hcl.Attributes) bool {
	for _, a := range attrs {
		for _, t := range a.Expr.Variables() {
			switch t.RootName() {
			case "var", "local", "each":
			default:
				return true
			}
		}
	}
	return false
}

// evalInstance evaluates one instance's attributes (for_each excluded) into
// an object with the computed attributes unknown.
func evalInstance(attrs hcl.Attributes, ctx *hcl.EvalContext, c *counts) (cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]cty.Value{}
	for name, a := range attrs {
		if name == "for_each" {
			continue
		}
		v, d := a.Expr.Value(ctx)
		diags = append(diags, d...)
		vals[name] = v
		c.attributes++
		c.references += len(a.Expr.Variables())
	}
	for _, name := range computed {
		if _, ok := vals[name]; !ok {
			vals[name] = cty.UnknownVal(cty.String)
		}
	}
	c.objects++
	return cty.ObjectVal(vals), diags
}

// evalResource evaluates every instance of r (one, or one per for_each key).
func evalResource(attrs hcl.Attributes, ctx *hcl.EvalContext, c *counts) (cty.Value, bool, hcl.Diagnostics) {
	fe, ok := attrs["for_each"]
	if !ok {
		v, d := evalInstance(attrs, ctx, c)
		return v, false, d
	}
	coll, diags := fe.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, true, diags
	}
	instances := map[string]cty.Value{}
	for it := coll.ElementIterator(); it.Next(); {
		k, v := it.Element()
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
		inst, d := evalInstance(attrs, child, c)
		diags = append(diags, d...)
		instances[k.AsString()] = inst
	}
	return cty.ObjectVal(instances), true, diags
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hcl_bench DIR")
		os.Exit(2)
	}
	paths, _ := filepath.Glob(filepath.Join(os.Args[1], "*.tf"))
	sort.Strings(paths)
	parser := hclparse.NewParser()
	var cfg root
	var diags hcl.Diagnostics
	for _, p := range paths {
		f, d := parser.ParseHCLFile(p)
		diags = append(diags, d...)
		if f == nil {
			continue
		}
		var part root
		diags = append(diags, gohcl.DecodeBody(f.Body, nil, &part)...)
		cfg.Variables = append(cfg.Variables, part.Variables...)
		cfg.Locals = append(cfg.Locals, part.Locals...)
		cfg.Providers = append(cfg.Providers, part.Providers...)
		cfg.Resources = append(cfg.Resources, part.Resources...)
	}
	if diags.HasErrors() {
		fail(diags, parser.Files())
	}

	vars := map[string]cty.Value{}
	for _, v := range cfg.Variables {
		vars[v.Name] = v.Default
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}}
	localVals := map[string]cty.Value{}
	for _, l := range cfg.Locals {
		attrs, d := l.Body.JustAttributes()
		diags = append(diags, d...)
		for name, a := range attrs {
			v, d := a.Expr.Value(ctx)
			diags = append(diags, d...)
			localVals[name] = v
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(localVals)

	// Resources that read only variables and locals first; then the rest,
	// with those as values (Terraform walks a graph; here one level is all
	// the generated platform has).
	var c counts
	byType := map[string]map[string]cty.Value{}
	attrsOf := make([]hcl.Attributes, len(cfg.Resources))
	var later []int
	for i, r := range cfg.Resources {
		attrs, d := r.Config.JustAttributes()
		diags = append(diags, d...)
		attrsOf[i] = attrs
		if refersToResources(attrs) {
			later = append(later, i)
			continue
		}
		v, _, d := evalResource(attrs, ctx, &c)
		diags = append(diags, d...)
		if byType[r.Type] == nil {
			byType[r.Type] = map[string]cty.Value{}
		}
		byType[r.Type][r.Name] = v
	}
	if diags.HasErrors() {
		fail(diags, parser.Files())
	}
	for t, m := range byType {
		ctx.Variables[t] = cty.ObjectVal(m)
	}
	results := make([]cty.Value, 0, len(later))
	for _, i := range later {
		v, _, d := evalResource(attrsOf[i], ctx, &c)
		diags = append(diags, d...)
		results = append(results, v)
	}
	if diags.HasErrors() {
		fail(diags, parser.Files())
	}
	fmt.Printf("hcl objects=%d attributes=%d references=%d files=%d\n", c.objects, c.attributes, c.references, len(paths))
	_ = results
}
