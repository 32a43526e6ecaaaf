// k8s_schema.cjs - validates Kubernetes manifests against the Kubernetes
// OpenAPI schemas that the npm package kubernetes-models ships (compiled
// validators: nothing is downloaded at run time).
//
//   node k8s_schema.cjs NODE_PREFIX FILE.yaml...
//
// NODE_PREFIX is where `npm install --prefix NODE_PREFIX kubernetes-models
// yaml` put them. Every document must be a kind this script knows (the
// kustomization.yaml of kustomize is not an API object and is skipped).
// Prints one line per document; exit 0 only when every one is valid.
"use strict";
const fs = require("fs");
const path = require("path");

const [prefix, ...files] = process.argv.slice(2);
if (!prefix || files.length === 0) {
	console.error("usage: node k8s_schema.cjs NODE_PREFIX FILE.yaml...");
	process.exit(2);
}
const mods = path.join(prefix, "node_modules");
const YAML = require(path.join(mods, "yaml"));

// apiVersion -> folder in kubernetes-models ("v1" is the core group)
function modelFor(apiVersion, kind) {
	const file = path.join(mods, "kubernetes-models", apiVersion, kind + ".js");
	if (!/^[A-Za-z0-9./-]+$/.test(apiVersion) || !/^[A-Za-z]+$/.test(kind) || !fs.existsSync(file))
		return null;
	return require(file)[kind];
}

let bad = 0, checked = 0;
for (const f of files) {
	const docs = YAML.parseAllDocuments(fs.readFileSync(f, "utf8"));
	docs.forEach((doc, i) => {
		const where = `${f}#${i + 1}`;
		if (doc.errors.length) {
			console.log(`${where}: YAML: ${doc.errors[0].message}`);
			bad++;
			return;
		}
		const obj = doc.toJS();
		if (obj === null)
			return;
		if (obj.kind === "Kustomization")
			return;
		const Model = modelFor(String(obj.apiVersion || ""), String(obj.kind || ""));
		if (!Model) {
			console.log(`${where}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`);
			bad++;
			return;
		}
		try {
			new Model(obj).validate();
			console.log(`${where}: ${obj.kind} ${obj.metadata && obj.metadata.name}: valid`);
			checked++;
		} catch (e) {
			console.log(`${where}: ${obj.kind} ${obj.metadata && obj.metadata.name}: ${e.message}`);
			bad++;
		}
	});
}
console.log(`k8s_schema: ${checked} valid, ${bad} invalid`);
process.exit(bad === 0 && checked > 0 ? 0 : 1);
