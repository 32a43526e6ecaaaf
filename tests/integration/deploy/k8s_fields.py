#!/usr/bin/env python3
"""k8s_fields.py - checks deploy/k8s for what the schema cannot: the fields
tlswatch needs (health checks, non-root, read-only root, resources, one pod
per probe identity) and that the pieces refer to each other correctly.

    python3 k8s_fields.py DEPLOY_K8S_DIR [--extract OUTDIR]

--extract writes the configuration files the ConfigMaps carry into OUTDIR
(collector.yaml, slos.yaml, notify.yaml, probe-REGION.yaml) so a test can
run `--check-config` on exactly them. Prints every problem; exit 0 when
there is none.
"""
import os
import sys

import yaml

problems = []


def bad(where, msg):
    problems.append(f"{where}: {msg}")


def load(d):
    docs = []
    for name in sorted(os.listdir(d)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        with open(os.path.join(d, name)) as f:
            for i, doc in enumerate(yaml.safe_load_all(f)):
                if doc is not None:
                    docs.append((f"{name}#{i + 1}", doc))
    return docs


def by_kind(docs, kind):
    return {doc["metadata"]["name"]: (w, doc) for w, doc in docs if doc.get("kind") == kind}


def check_kustomization(d):
    with open(os.path.join(d, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    listed = set(k.get("resources", []))
    present = {n for n in os.listdir(d) if n.endswith(".yaml") and n != "kustomization.yaml"}
    if listed != present:
        bad("kustomization.yaml", f"resources {sorted(listed)} != files {sorted(present)}")


def check_container(where, c, init):
    sc = c.get("securityContext") or {}
    if sc.get("allowPrivilegeEscalation") is not False:
        bad(where, f"container {c['name']}: allowPrivilegeEscalation must be false")
    if sc.get("readOnlyRootFilesystem") is not True:
        bad(where, f"container {c['name']}: readOnlyRootFilesystem must be true")
    if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
        bad(where, f"container {c['name']}: capabilities must drop ALL")
    if sc.get("runAsUser") == 0 or sc.get("runAsNonRoot") is False:
        bad(where, f"container {c['name']}: runs as root")
    res = c.get("resources") or {}
    for part in ("requests", "limits"):
        for r in ("cpu", "memory"):
            if r not in (res.get(part) or {}):
                bad(where, f"container {c['name']}: resources.{part}.{r} missing")
    if not c.get("image"):
        bad(where, f"container {c['name']}: no image")


def check_pod(where, dep, configmaps, secrets, pvcs):
    spec = dep["spec"]["template"]["spec"]
    psc = spec.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        bad(where, "pod securityContext: runAsNonRoot true and a non-zero runAsUser wanted")
    if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
        bad(where, "pod securityContext: seccompProfile RuntimeDefault wanted")
    sel = dep["spec"]["selector"]["matchLabels"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in sel.items()):
        bad(where, "selector does not match the pod labels")
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    for v in vols.values():
        if "configMap" in v and v["configMap"]["name"] not in configmaps:
            bad(where, f"volume {v['name']}: no ConfigMap {v['configMap']['name']}")
        if "secret" in v and v["secret"]["secretName"] not in secrets:
            bad(where, f"volume {v['name']}: no Secret {v['secret']['secretName']}")
        if "persistentVolumeClaim" in v and v["persistentVolumeClaim"]["claimName"] not in pvcs:
            bad(where, f"volume {v['name']}: no PVC {v['persistentVolumeClaim']['claimName']}")
    for init, cs in ((True, spec.get("initContainers", [])), (False, spec["containers"])):
        for c in cs:
            check_container(where, c, init)
            for m in c.get("volumeMounts", []):
                v = vols.get(m["name"])
                if v is None:
                    bad(where, f"container {c['name']}: mount of unknown volume {m['name']}")
                    continue
                if "subPath" in m and "configMap" in v:
                    cm = configmaps.get(v["configMap"]["name"])
                    if cm and m["subPath"] not in cm[1].get("data", {}):
                        bad(where, f"container {c['name']}: ConfigMap has no {m['subPath']}")
            for e in c.get("envFrom", []):
                if "secretRef" in e and e["secretRef"]["name"] not in secrets:
                    bad(where, f"container {c['name']}: no Secret {e['secretRef']['name']}")
    return spec


def port_of(addr):
    return int(str(addr).rsplit(":", 1)[1])


def secret_keys(secret):
    return set((secret.get("stringData") or {}).keys()) | set((secret.get("data") or {}).keys())


def check_secrets_are_templates(secrets):
    for name, (w, s) in secrets.items():
        for k, v in {**(s.get("stringData") or {}), **(s.get("data") or {})}.items():
            if "BEGIN" in str(v) or "REPLACE" not in str(v) and k.endswith((".key", ".pem")):
                bad(w, f"Secret {name}.{k} must be a template, not real material")


def tls_keys_of(cfg, section):
    s = cfg[section]
    return {os.path.basename(s[k]) for k in ("ca_file", "cert_file", "key_file")}


def main():
    d = sys.argv[1]
    out = sys.argv[3] if len(sys.argv) == 4 and sys.argv[2] == "--extract" else None
    check_kustomization(d)
    docs = load(d)
    cms, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    pvcs, deps = by_kind(docs, "PersistentVolumeClaim"), by_kind(docs, "Deployment")
    services = by_kind(docs, "Service")
    check_secrets_are_templates(secrets)
    extracted = {}

    coll = [x for x in deps.values() if x[1]["metadata"]["name"] == "tlswatch-collector"]
    if len(coll) != 1:
        bad("deploy/k8s", "one Deployment tlswatch-collector wanted")
    for where, dep in coll:
        spec = check_pod(where, dep, cms, secrets, pvcs)
        c = next(c for c in spec["containers"] if c["name"] == "collector")
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        rp, lp = c.get("readinessProbe", {}).get("httpGet", {}), c.get("livenessProbe", {}).get("httpGet", {})
        if rp.get("path") != "/readyz":
            bad(where, "collector readinessProbe must GET /readyz")
        if lp.get("path") != "/healthz":
            bad(where, "collector livenessProbe must GET /healthz")
        cm = cms.get("tlswatch-collector")
        if not cm:
            bad(where, "no ConfigMap tlswatch-collector")
            continue
        cfg = yaml.safe_load(cm[1]["data"]["collector.yaml"])
        for name, probe in (("readinessProbe", rp), ("livenessProbe", lp)):
            if ports.get(probe.get("port")) != port_of(cfg["http"]["listen"]):
                bad(where, f"{name} port is not http.listen of collector.yaml")
        if not str(cfg["http"]["listen"]).startswith("0.0.0.0:"):
            bad(where, "http.listen must be 0.0.0.0 in a pod (the kubelet probes it)")
        if ports.get("ingest") != port_of(cfg["listen"]):
            bad(where, "container port ingest is not listen of collector.yaml")
        tls_secret = next((v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v), None)
        if tls_secret in secrets and tls_keys_of(cfg, "tls") - secret_keys(secrets[tls_secret][1]):
            bad(where, f"Secret {tls_secret} lacks files collector.yaml names")
        targets = {(s[1]["spec"]["ports"][0]["targetPort"]) for s in services.values()
                   if all(dep["spec"]["template"]["metadata"]["labels"].get(k) == v
                          for k, v in s[1]["spec"]["selector"].items())}
        if not {"ingest", "http"} <= targets:
            bad(where, f"Services must expose ingest and http of the collector (have {sorted(targets)})")
        for k in ("collector.yaml", "slos.yaml", "notify.yaml"):
            extracted[k] = cm[1]["data"][k]

    regions = set()
    for name, (where, dep) in deps.items():
        if not name.startswith("tlswatch-probe-"):
            continue
        spec = check_pod(where, dep, cms, secrets, pvcs)
        if dep["spec"].get("replicas") != 1 or dep["spec"].get("strategy", {}).get("type") != "Recreate":
            bad(where, "a probe Deployment must have replicas 1 and strategy Recreate (one identity)")
        cmname = next(v["configMap"]["name"] for v in spec["volumes"] if "configMap" in v)
        cfg = yaml.safe_load(cms[cmname][1]["data"]["probe.yaml"])
        region = cfg["probe"]["region"]
        if dep["spec"]["template"]["metadata"]["labels"].get("tlswatch.io/region") != region:
            bad(where, f"region label differs from probe.yaml's region {region}")
        regions.add(region)
        tls_secret = next(v["secret"]["secretName"] for v in spec["volumes"] if "secret" in v)
        if tls_keys_of(cfg, "collector") - secret_keys(secrets[tls_secret][1]):
            bad(where, f"Secret {tls_secret} lacks files probe.yaml names")
        spool = [m for c in spec["containers"] for m in c.get("volumeMounts", [])
                 if str(cfg["spool"]["path"]).startswith(m["mountPath"] + "/")]
        if not spool or "persistentVolumeClaim" not in next(
                v for v in spec["volumes"] if v["name"] == spool[0]["name"]):
            bad(where, "spool.path must be on the PersistentVolumeClaim")
        if not spec["containers"][0].get("livenessProbe"):
            bad(where, "probe container has no livenessProbe")
        extracted[f"probe-{region}.yaml"] = cms[cmname][1]["data"]["probe.yaml"]
    if len(regions) < 2:
        bad("deploy/k8s", f"probe Deployments for two or more regions wanted, have {sorted(regions)}")

    if out:
        os.makedirs(out, exist_ok=True)
        for k, v in extracted.items():
            with open(os.path.join(out, k), "w") as f:
                f.write(v)
    for p in problems:
        print(p)
    print(f"k8s_fields: {len(deps)} Deployments, regions {sorted(regions)}, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
