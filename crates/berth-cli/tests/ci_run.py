"""Runs a generated CI pipeline's shell steps, in order, on this machine.

    python ci_run.py github|gitlab PIPELINE REPO CONTEXT_JSON RESULT_JSON

A stand-in for the CI's runner, strict where it matters: every job runs in
its order (`needs`, stages), every `if:`/`rules:` is evaluated (an
expression this runner cannot evaluate is an error, not a guess), every
`run:`/`script:` line runs with bash -e in REPO, with the CI's files
(GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, dotenv reports) and variables. Steps
that call published actions (`uses:`) are recorded, not run. A job whose
step fails fails; jobs needing it are skipped. CONTEXT_JSON gives the event
and the values of `vars`, `secrets`, `inputs` and `github.event`, and for
GitLab the manual jobs to play. RESULT_JSON gets each job's status and each
step's output.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

kind, pipeline_file, repo, context_file, result_file = sys.argv[1:6]
context = json.load(open(context_file))
doc = yaml.safe_load(open(pipeline_file))
results = {}


def shell(script, env, cwd):
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(script)
    p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", f.name], cwd=cwd, env=env,
                       capture_output=True, text=True)
    os.unlink(f.name)
    return p.returncode, p.stdout + p.stderr


# ---- GitHub Actions ---------------------------------------------------------

TOKEN = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\)|,)|'((?:[^']|'')*)'|([A-Za-z_][\w\-]*(?:\.[\w\-]+)*)|(\d+))")


class Expr:
    """GitHub's expression language, the part a workflow here uses."""

    def __init__(self, text, lookup, status):
        self.tokens, pos = [], 0
        text = text.strip()
        while pos < len(text):
            m = TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise SystemExit(f"cannot read the expression {text!r} at {text[pos:]!r}")
            self.tokens.append(m.groups())
            pos = m.end()
        self.i, self.lookup, self.status, self.text = 0, lookup, status, text

    def peek(self):
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def value(self):
        v = self.or_()
        if self.i != len(self.tokens):
            raise SystemExit(f"trailing tokens in {self.text!r}")
        return v

    def or_(self):
        v = self.and_()
        while self.peek() == "||":
            self.i += 1
            r = self.and_()
            v = v or r
        return v

    def and_(self):
        v = self.cmp()
        while self.peek() == "&&":
            self.i += 1
            r = self.cmp()
            v = v and r
        return v

    def cmp(self):
        v = self.unary()
        while self.peek() in ("==", "!="):
            op = self.peek()
            self.i += 1
            r = self.unary()
            v = (str(v).lower() == str(r).lower()) if op == "==" else (str(v).lower() != str(r).lower())
        return v

    def unary(self):
        if self.peek() == "!":
            self.i += 1
            return not self.unary()
        return self.atom()

    def atom(self):
        op, string, name, number = self.tokens[self.i]
        self.i += 1
        if op == "(":
            v = self.or_()
            self.i += 1
            return v
        if string is not None:
            return string.replace("''", "'")
        if number is not None:
            return number
        if self.peek() == "(":
            self.i += 1
            args = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.i += 1
            self.i += 1
            return self.call(name, args)
        return self.lookup(name)

    def call(self, name, args):
        if name == "contains":
            return str(args[1]).lower() in str(args[0] or "").lower()
        if name in ("always", "success", "failure", "cancelled"):
            return self.status(name)
        raise SystemExit(f"unknown function {name} in {self.text!r}")


def github():
    event = context["event"]
    outputs = {}
    wf_env = {}

    def lookup_in(job_ctx):
        def lookup(name):
            root, _, rest = name.partition(".")
            tree = {
                "github": {"event_name": event, "event": context.get("github_event", {}), "run_id": "1",
                           "ref": "refs/heads/main", "token": "ghs_test"},
                "vars": context.get("vars", {}),
                "secrets": context.get("secrets", {}),
                "inputs": context.get("inputs", {}),
                "env": {**wf_env, **job_ctx.get("env", {})},
                "needs": {j: {"outputs": outputs.get(j, {}), "result": results.get(j, {}).get("status")}
                          for j in job_ctx.get("needs", [])},
                "steps": job_ctx.get("steps", {}),
                "runner": {"os": "Linux"},
            }
            if root not in tree:
                raise SystemExit(f"unknown context {root!r} in {name!r}")
            v = tree[root]
            for part in rest.split(".") if rest else []:
                v = v.get(part) if isinstance(v, dict) else None
            return "" if v is None else v
        return lookup

    def substitute(s, lookup, status):
        def one(m):
            v = Expr(m.group(1), lookup, status).value()
            return "true" if v is True else "false" if v is False else str(v)
        return re.sub(r"\$\{\{(.*?)\}\}", one, str(s))

    def condition(text, lookup, status):
        text = str(text).strip()
        m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
        v = Expr(m.group(1) if m else text, lookup, status).value()
        return v not in (False, "", "false", "0", None)

    for k, v in (doc.get("env") or {}).items():
        wf_env[k] = substitute(v, lookup_in({}), lambda _: True)
    jobs = doc["jobs"]
    for name, job in jobs.items():
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        for n in needs:
            if n not in results:
                raise SystemExit(f"job {name} needs {n}, which comes later or does not exist")
        ctx = {"needs": needs, "steps": {}, "env": {}}
        upstream_ok = all(results[n]["status"] == "success" for n in needs)
        lookup = lookup_in(ctx)
        job_status = lambda f: {"always": True, "success": upstream_ok, "failure": not upstream_ok,
                                "cancelled": False}[f]
        run = upstream_ok if "if" not in job else condition(job["if"], lookup, job_status)
        if "if" in job and "always()" not in str(job["if"]):
            run = run and upstream_ok
        if not run:
            results[name] = {"status": "skipped", "steps": []}
            continue
        ctx["env"] = {k: substitute(v, lookup, job_status) for k, v in (job.get("env") or {}).items()}
        summary = tempfile.NamedTemporaryFile(delete=False).name
        failed, steps = False, []
        for step in job["steps"]:
            label = step.get("name") or step.get("uses") or step.get("run", "")[:40]
            step_status = lambda f: {"always": True, "success": not failed, "failure": failed,
                                     "cancelled": False}[f]
            go = condition(step["if"], lookup, step_status) if "if" in step else not failed
            if "if" in step and not any(f in str(step["if"]) for f in ("always()", "failure()")):
                go = go and not failed
            if not go:
                steps.append({"name": label, "status": "skipped"})
                continue
            if "uses" in step:
                steps.append({"name": label, "status": "uses", "uses": step["uses"]})
                continue
            output = tempfile.NamedTemporaryFile(delete=False).name
            env = dict(os.environ, **context.get("env", {}), **wf_env, **ctx["env"],
                       GITHUB_OUTPUT=output, GITHUB_STEP_SUMMARY=summary, GITHUB_ACTIONS="true", CI="true",
                       GITHUB_EVENT_NAME=event)
            env.update({k: substitute(v, lookup, step_status) for k, v in (step.get("env") or {}).items()})
            code, out = shell(substitute(step["run"], lookup, step_status), env, repo)
            step_outputs = dict(line.split("=", 1) for line in open(output).read().splitlines() if "=" in line)
            if "id" in step:
                ctx["steps"][step["id"]] = {"outputs": step_outputs}
            steps.append({"name": label, "status": "success" if code == 0 else "failure", "code": code,
                          "output": out})
            failed = failed or code != 0
        outputs[name] = {k: substitute(v, lookup, lambda _: True) for k, v in (job.get("outputs") or {}).items()}
        results[name] = {"status": "failure" if failed else "success", "steps": steps,
                         "summary": open(summary).read(), "outputs": outputs[name]}


# ---- GitLab CI --------------------------------------------------------------

RESERVED = {"workflow", "stages", "variables", "default", "include", "image", "services", "cache",
            "before_script", "after_script"}


def gitlab_if(expr, variables):
    """GitLab's rules:if: $VAR == "x", != , =~ /re/, &&, ||."""
    def var(tok):
        return variables.get(tok[1:], "") if tok.startswith("$") else tok.strip('"')
    def clause(c):
        c = c.strip()
        m = re.fullmatch(r"(\$\w+)\s*(==|!=)\s*(\"[^\"]*\"|\$\w+)", c)
        if m:
            a, op, b = var(m.group(1)), m.group(2), var(m.group(3))
            return (a == b) if op == "==" else (a != b)
        m = re.fullmatch(r"(\$\w+)\s*=~\s*/(.*)/", c)
        if m:
            return re.search(m.group(2), var(m.group(1))) is not None
        raise SystemExit(f"cannot evaluate the rule {expr!r}")
    return any(all(clause(c) for c in part.split("&&")) for part in expr.split("||"))


def gitlab():
    variables = dict(context.get("variables", {}))
    variables.update({k: str(v) for k, v in (doc.get("variables") or {}).items()})
    for rule in doc.get("workflow", {}).get("rules", []):
        if "if" not in rule or gitlab_if(rule["if"], variables):
            if rule.get("when") == "never":
                print("the workflow rules start no pipeline")
                json.dump({}, open(result_file, "w"))
                return
            break
    else:
        print("no workflow rule matched: no pipeline")
        json.dump({}, open(result_file, "w"))
        return
    default = doc.get("default", {})
    jobs = [(n, j) for n, j in doc.items() if n not in RESERVED]
    order = {s: i for i, s in enumerate(doc["stages"])}
    jobs.sort(key=lambda nj: order[nj[1]["stage"]])
    dotenv = {}
    for name, job in jobs:
        needs = job.get("needs", [])
        if not all(results.get(n, {}).get("status") == "success" for n in needs):
            results[name] = {"status": "skipped", "steps": []}
            continue
        env_vars = dict(variables)
        for n in needs:
            env_vars.update(dotenv.get(n, {}))
        for k, v in (job.get("variables") or {}).items():
            env_vars[k] = re.sub(r"\$(\w+)", lambda m: env_vars.get(m.group(1), ""), str(v))
        when = "on_success"
        for rule in job.get("rules", []):
            if "if" not in rule or gitlab_if(rule["if"], env_vars):
                when = rule.get("when", "on_success")
                break
        if when == "never" or (when == "manual" and name not in context.get("play", [])):
            results[name] = {"status": "skipped" if when == "never" else "manual", "steps": []}
            continue
        env = dict(os.environ, **{k: str(v) for k, v in env_vars.items()}, CI="true", GITLAB_CI="true")
        env.pop("GITHUB_OUTPUT", None)
        script = "\n".join(default.get("before_script", []) + job["script"])
        code, out = shell(script, env, repo)
        steps = [{"name": "script", "status": "success" if code == 0 else "failure", "code": code, "output": out}]
        for line in job.get("after_script", []):
            acode, aout = shell(line, env, repo)
            steps.append({"name": "after_script", "status": "success" if acode == 0 else "failure", "output": aout})
        report = (job.get("artifacts") or {}).get("reports", {}).get("dotenv")
        if report and os.path.exists(os.path.join(repo, report)):
            pairs = open(os.path.join(repo, report)).read().splitlines()
            dotenv[name] = dict(p.split("=", 1) for p in pairs if "=" in p)
            os.unlink(os.path.join(repo, report))
        results[name] = {"status": "success" if code == 0 else "failure", "steps": steps,
                         "dotenv": dotenv.get(name, {})}


github() if kind == "github" else gitlab()
json.dump(results, open(result_file, "w"), indent=1)
print("ran", ", ".join(f"{j}: {r['status']}" for j, r in results.items()))
