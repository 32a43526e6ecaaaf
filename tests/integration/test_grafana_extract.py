#!/usr/bin/env python3
"""Reads a Grafana dashboard JSON of deploy/grafana/ and prints what
tests/integration/test_grafana.c runs against real servers.

    test_grafana_extract.py sql DASHBOARD.json VAR=v1,v2 ...
        JSON list on stdout, one object per SQL query (every panel target and
        every query template variable):
          {"where": "panel 5 'Regional...' A", "format": "table"|"time_series"|"variable",
           "sql": "...", "columns": [column names the panel refers to]}
    test_grafana_extract.py promql DASHBOARD.json RULES_OUT.yml ROOT
        writes every PromQL expression as a recording rule (for
        `promtool check rules`) and fails when an expression reads a series
        that nothing provides: the names the collector exports are the
        string literals of ROOT/collector/metrics*.c, the recorded ones the
        `record:` names of ROOT/deploy/prometheus/*.yml, plus Prometheus'
        own ALERTS.

Grafana macros become concrete SQL, as Grafana's PostgreSQL data source
expands them, over the range [now - 24h, now]:
    $__timeFilter(col)          col BETWEEN '<from>' AND '<to>'
    $__timeFrom() / $__timeTo() '<from>'::timestamptz / '<to>'::timestamptz
    $__timeGroup(col, IV)       to_timestamp(floor(extract(epoch FROM col) / S) * S)
                                (S: IV in seconds; $__interval is 60 s)
    $__timeGroupAlias(col, IV)  the same AS "time"
    $__interval                 '1m'
and template variables as Grafana interpolates them for SQL: a variable with
multi-value or "All" becomes a quoted, comma-separated list ('a','b') (the
values given as VAR=v1,v2), any other keeps its current value unquoted. In PromQL a variable becomes ".*" (the "All" value),
$__rate_interval 5m, $__interval 1m, $__range 1h.
Anything else that starts with $ is an error: a macro the test does not know
is a query the test did not really run."""
import datetime, json, re, sys

def die(msg):
    sys.exit("test_grafana_extract: " + msg)

def seconds(iv):
    iv = iv.strip().strip("'\"")
    if iv == "$__interval":
        return 60
    m = re.fullmatch(r"(\d+)(s|m|h|d)", iv)
    if not m:
        die("interval %r not understood" % iv)
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]

def macro_args(sql, start):
    """The argument text of a macro call whose '(' is at sql[start]; returns (args, end)."""
    depth, i = 0, start
    while i < len(sql):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return sql[start + 1:i], i + 1
        i += 1
    die("unbalanced macro call in: " + sql)

def expand_sql(sql, variables, t_from, t_to):
    out, i = [], 0
    while i < len(sql):
        m = re.compile(r"\$(__\w+|\{\w+(?::\w+)?\}|\w+)").search(sql, i)
        if not m:
            out.append(sql[i:])
            break
        out.append(sql[i:m.start()])
        name = m.group(1)
        i = m.end()
        if name in ("__timeFilter", "__timeGroup", "__timeGroupAlias", "__timeFrom", "__timeTo"):
            if i >= len(sql) or sql[i] != "(":
                die("$%s without arguments" % name)
            args, i = macro_args(sql, i)
            if name == "__timeFrom":
                out.append("'%s'::timestamptz" % t_from)
            elif name == "__timeTo":
                out.append("'%s'::timestamptz" % t_to)
            elif name == "__timeFilter":
                out.append("%s BETWEEN '%s'::timestamptz AND '%s'::timestamptz" % (args.strip(), t_from, t_to))
            else:
                col, iv = [a.strip() for a in args.rsplit(",", 1)]
                s = seconds(iv)
                out.append("to_timestamp(floor(extract(epoch FROM %s) / %d) * %d)" % (col, s, s))
                if name == "__timeGroupAlias":
                    out.append(' AS "time"')
        elif name == "__interval":
            out.append("'1m'")
        else:
            var = name.strip("{}").split(":")[0]
            if var not in variables:
                die("unknown macro or variable $%s (known: %s)" % (name, ", ".join(sorted(variables))))
            vals, quote = variables[var]
            if quote:
                out.append(",".join("'%s'" % v.replace("'", "''") for v in vals))
            else:
                out.append(vals[0])
    return "".join(out)

def panels_of(d):
    for p in d.get("panels", []):
        yield p
        for q in p.get("panels", []):  # collapsed rows
            yield q

def expected_columns(p):
    cols = set()
    for o in p.get("fieldConfig", {}).get("overrides", []):
        if o.get("matcher", {}).get("id") == "byName":
            cols.add(o["matcher"]["options"])
    for t in p.get("transformations", []):
        opt = t.get("options", {})
        if t["id"] == "groupingToMatrix":
            cols.update(opt[k] for k in ("columnField", "rowField", "valueField"))
        if t["id"] == "organize":
            cols.update(opt.get("excludeByName", {}))
    return sorted(cols)

def cmd_sql(path, assigns):
    d = json.load(open(path))
    variables, quoted = {}, set()
    for v in d.get("templating", {}).get("list", []):
        if v.get("multi") or v.get("includeAll"):
            quoted.add(v["name"])
        if v["type"] == "custom":
            variables[v["name"]] = ([v["current"]["value"]], v["name"] in quoted)
    for a in assigns:
        k, _, vals = a.partition("=")
        if k not in quoted:
            die("variable %s: not a multi-value variable of %s" % (k, path))
        variables[k] = (vals.split(","), True)
    now = datetime.datetime.now(datetime.timezone.utc)
    t_to = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    t_from = (now - datetime.timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out = []
    for v in d.get("templating", {}).get("list", []):
        if v["type"] == "query":
            q = v["query"] if isinstance(v["query"], str) else v["query"]["query"]
            out.append({"where": "variable " + v["name"], "format": "variable",
                        "sql": expand_sql(q, variables, t_from, t_to), "columns": []})
    for p in panels_of(d):
        for t in p.get("targets", []):
            if "rawSql" not in t:
                die("panel %r target %s has no rawSql" % (p["title"], t.get("refId")))
            fmt = t.get("format", "time_series")
            out.append({"where": "panel %d %r %s" % (p["id"], p["title"], t["refId"]),
                        "format": fmt, "sql": expand_sql(t["rawSql"], variables, t_from, t_to),
                        # Grafana's time_series format needs a "time" column
                        "columns": expected_columns(p) + (["time"] if fmt == "time_series" else [])})
    if not out:
        die(path + ": no SQL queries")
    json.dump(out, sys.stdout, indent=1)

PROMQL_WORDS = {"by", "without", "and", "or", "unless", "bool", "offset", "on", "ignoring",
                "group_left", "group_right", "inf", "nan"}

def series_names(expr):
    e = re.sub(r'"(\\.|[^"\\])*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or m.group(0).lower() in PROMQL_WORDS:
            continue
        if m.start() > 0 and (e[m.start() - 1].isdigit() or e[m.start() - 1] == "."):
            continue  # the unit of a number, e.g. 1e3
        names.add(m.group(0))
    return names

def expand_promql(expr):
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$__range", "1h")
    expr = re.sub(r"\$\{?(\w+)\}?", ".*", expr)
    return expr

def known_series(root):
    import glob
    known = {"ALERTS"}
    for f in glob.glob(root + "/collector/metrics*.c"):
        known.update(re.findall(r'"((?:tlswatch|probe|process)_[a-z0-9_]+)', open(f).read()))
    for f in glob.glob(root + "/deploy/prometheus/*.yml"):
        known.update(re.findall(r"^\s*-?\s*record:\s*(\S+)", open(f).read(), re.M))
    if len(known) < 20:
        die("found only %d series names under %s: wrong ROOT?" % (len(known), root))
    return known

def cmd_promql(path, rules_out, root):
    d = json.load(open(path))
    known = known_series(root)
    rules, unknown = [], []
    for p in panels_of(d):
        for t in p.get("targets", []):
            if "expr" not in t:
                die("panel %r target %s has no expr" % (p["title"], t.get("refId")))
            expr = expand_promql(t["expr"])
            for n in sorted(series_names(expr) - known):
                unknown.append("panel %d %r %s reads %s" % (p["id"], p["title"], t["refId"], n))
            rules.append(("grafana:panel_%d_%s" % (p["id"], t["refId"]), expr))
    for v in d.get("templating", {}).get("list", []):
        if v["type"] == "query":
            q = v["query"] if isinstance(v["query"], str) else v["query"]["query"]
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", q)
            if not m:
                die("variable %s: query %r is not label_values(series, label)" % (v["name"], q))
            if m.group(1) not in known:
                unknown.append("variable %s reads %s" % (v["name"], m.group(1)))
            rules.append(("grafana:variable_%s" % v["name"], "count by (%s) (%s)" % (m.group(2), m.group(1))))
    if unknown:
        die("series no exporter or rule provides:\n  " + "\n  ".join(unknown))
    if not rules:
        die(path + ": no PromQL expressions")
    with open(rules_out, "w") as o:
        o.write("groups:\n  - name: grafana\n    rules:\n")
        for rec, expr in rules:
            o.write("      - record: %s\n        expr: %s\n" % (rec, json.dumps(expr)))
    print(len(rules))

if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "sql":
        cmd_sql(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 5 and sys.argv[1] == "promql":
        cmd_promql(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        die("usage: see the docstring")
