"""The configuration reference, written from template.yaml, and the checks that keep it true.

    python3 scripts/docs_reference.py           # writes docs/deploy/configuration.md and the
                                                # permissions section of each function's page
    python3 scripts/docs_reference.py --check   # fails when they are stale (make test)

Every parameter is listed under its group (the template's AWS::CloudFormation::Interface,
as `sam deploy --guided` and the console ask them), with its label, default, allowed values,
the functions and environment variables it sets (or the resources it shapes), and its
Description. The check also fails when a parameter has no Description, when the README
passes 250 lines or links to a file that does not exist, and when a function
reads a variable (in its config.rs) that the template does not set and the function's page
(docs/functions/<function>.md) does not name it.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_parse

from check_template_deploys import names_used as template_names_used

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
PAGE = ROOT / "docs" / "deploy" / "configuration.md"
FUNCTIONS = {
    "IamExportFunction": "iam-export",
    "EksSchedulerFunction": "eks-scheduler",
    "CostReportFunction": "cost-report",
    "ThumbnailerFunction": "thumbnailer",
    "PhotosApiFunction": "photos-api",
}
# Quoted capitals in a config.rs that are values, not variables.
NOT_VARIABLES = {"REGION"}
PERMISSIONS_START = "<!-- permissions: written by scripts/docs_reference.py -->"
PERMISSIONS_END = "<!-- end of permissions -->"


def conditions_named(node):
    """The conditions a node names: a resource's Condition and each Fn::If's."""
    if isinstance(node, list):
        for item in node:
            yield from conditions_named(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Condition" and isinstance(value, str):
                yield value
            elif key == "Fn::If":
                yield value[0]
            yield from conditions_named(value)


def names_used(node):
    """Every logical id, parameter and condition a node names (Ref, Fn::GetAtt, Fn::Sub's ${}, conditions)."""
    return set(template_names_used(node)) | set(conditions_named(node))


def conditions_using(template, parameter):
    """The conditions that depend on `parameter`, directly or through another condition."""
    conditions = template.get("Conditions", {})
    found = set()
    changed = True
    while changed:
        changed = False
        for name, body in conditions.items():
            used = set(names_used(body))
            if name not in found and (parameter in used or used & found):
                found.add(name)
                changed = True
    return found


def environment_of(template):
    """{function logical id: {variable: the names its value uses}}, the Globals' included."""
    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    result = {}
    for logical_id in FUNCTIONS:
        own = template["Resources"][logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        result[logical_id] = {name: set(names_used(value)) for name, value in {**globals_env, **own}.items()}
    return result


def what_it_sets(template, parameter, environment):
    """Lines saying which variables of which functions the parameter sets, else what it shapes."""
    conditions = conditions_using(template, parameter) | {parameter}
    lines = []
    for logical_id, variables in environment.items():
        # Only a value the parameter itself is part of: a condition that picks between two
        # values (a created bucket or an existing one) is not what the variable holds.
        names = sorted(name for name, used in variables.items() if parameter in used)
        if names:
            lines.append(f"{FUNCTIONS[logical_id]}: " + ", ".join(f"`{name}`" for name in names))
    if lines:
        return lines
    shaped = sorted(
        logical_id for logical_id, resource in template["Resources"].items()
        if conditions & (set(names_used(resource)) | {resource.get("Condition")})
    )
    rules = sorted(name for name, rule in template.get("Rules", {}).items() if parameter in set(names_used(rule))
                   or parameter in str(rule))
    if shaped:
        shown = ", ".join(f"`{name}`" for name in shaped[:8])
        more = f" and {len(shaped) - 8} more" if len(shaped) > 8 else ""
        lines.append(f"resources {shown}{more}")
    if rules:
        lines.append("rules " + ", ".join(f"`{name}`" for name in rules))
    return lines or ["nothing directly (read by the template's rules and conditions)"]


def cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def render(template):
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    labels = interface["ParameterLabels"]
    parameters = template["Parameters"]
    environment = environment_of(template)
    out = [
        "# Configuration reference",
        "",
        "<!-- Written by scripts/docs_reference.py from template.yaml: edit the template, then run"
        " `make docs-reference`. make test fails when this page is stale. -->",
        "",
        f"Every parameter of `template.yaml` ({len(parameters)} in all), group by group, in the order"
        " `sam deploy --guided` asks them. *Sets* names the function and the environment variable"
        " a parameter becomes; a parameter that sets no variable shapes the resources it names"
        " (a schedule, an alarm, a memory size). A function's page lists the variables it also"
        " reads that the template does not set.",
        "",
        "Pass a parameter with `sam deploy --parameter-overrides Name=value` or answer it in"
        " `sam deploy --guided`; `samconfig.toml` keeps the answers.",
        "",
    ]
    for group in interface["ParameterGroups"]:
        out += [f"## {group['Label']['default']}", ""]
        for name in group["Parameters"]:
            parameter = parameters[name]
            out += [f"### `{name}`", ""]
            out.append(f"*{cell(labels.get(name, {}).get('default', name))}.* {cell(parameter.get('Description', ''))}")
            out.append("")
            default = parameter.get("Default")
            facts = [f"**Default**: `{cell(default)}`" if default not in (None, "") else
                     ("**Default**: empty" if default == "" else "**Default**: none (required)")]
            if "AllowedValues" in parameter:
                facts.append("**Allowed**: " + ", ".join(f"`{cell(v)}`" for v in parameter["AllowedValues"]))
            elif "AllowedPattern" in parameter:
                facts.append(f"**Allowed**: {cell(parameter.get('ConstraintDescription', parameter['AllowedPattern']))}")
            for bound in ("MinValue", "MaxValue"):
                if bound in parameter:
                    facts.append(f"**{bound[:3]}**: {parameter[bound]}")
            facts.append("**Sets**: " + "; ".join(what_it_sets(template, name, environment)))
            out += ["- " + fact for fact in facts]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def statements(node, condition=None):
    """(Sid, actions, the condition it is granted under) of every statement in a Policies tree."""
    if isinstance(node, list):
        for item in node:
            yield from statements(item, condition)
    elif isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            yield from statements(when_true, name)
            yield from statements(when_false, f"not {name}")
        elif "Action" in node and node.get("Effect", "Allow") == "Allow":
            actions = node["Action"] if isinstance(node["Action"], list) else [node["Action"]]
            yield node.get("Sid", "(no Sid)"), [a for a in actions if isinstance(a, str)], condition
        else:
            for value in node.values():
                yield from statements(value, condition)


def permissions_block(template, logical_id):
    """The function page's list of what its role may do, statement by statement."""
    properties = template["Resources"][logical_id]["Properties"]
    # A function whose role the template writes out itself (`Role:`): that role's policies.
    policies = properties.get("Policies") or [
        policy["PolicyDocument"] for policy in template["Resources"][f"{logical_id}Role"]["Properties"]["Policies"]
    ]
    lines = [PERMISSIONS_START, "",
             "What the function's role may do, statement by statement, as `template.yaml` grants it"
             " (written from the template by `make docs-reference`; `make test` checks every request"
             " the tests make against it: see [Permissions](../deploy/permissions.md)). Every role"
             " also gets SAM's `AWSLambdaBasicExecutionRole` (its own log lines) and, for X-Ray,"
             " `AWSXrayWriteOnlyAccess` (its traces).", ""]
    for sid, actions, condition in statements(policies):
        when = f" (only when `{condition}`)" if condition else ""
        lines.append(f"- **{sid}**{when}: " + ", ".join(f"`{a}`" for a in actions))
    return "\n".join(lines + ["", PERMISSIONS_END])


def with_permissions(text, block):
    before, rest = text.split(PERMISSIONS_START, 1)
    return before + block + rest.split(PERMISSIONS_END, 1)[1]


def readme_problems():
    """The README stays a front page (under 250 lines) and every file it links to exists."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    problems = []
    if len(text.splitlines()) >= 250:
        problems.append(f"README.md has {len(text.splitlines())} lines: keep it under 250, move the rest to docs/")
    for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)|src="([^"]+)"', text):
        path = next(t for t in target if t)
        if not re.match(r"[a-z]+://", path) and not (ROOT / path).exists():
            problems.append(f"README.md links to {path}, which does not exist")
    return problems


def problems_of(template):
    problems = readme_problems() + [f"parameter {name} has no Description: add one to template.yaml"
                for name, parameter in template["Parameters"].items() if not str(parameter.get("Description", "")).strip()]
    environment = environment_of(template)
    for logical_id, function in FUNCTIONS.items():
        config = ROOT / "functions" / function / "src" / "config.rs"
        read = set(re.findall(r'"([A-Z][A-Z0-9_]{3,})"', config.read_text())) - NOT_VARIABLES
        page = ROOT / "docs" / "functions" / f"{function}.md"
        text = page.read_text() if page.exists() else ""
        for variable in sorted(read - set(environment[logical_id])):
            if f"`{variable}`" not in text:
                problems.append(f"{function} reads {variable}, which the template does not set: "
                                f"name it (as `{variable}`) in {page.relative_to(ROOT)}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is stale or a check fails")
    args = parser.parse_args()
    template = yaml_parse(TEMPLATE.read_text())
    pages = {PAGE: render(template)}
    problems = problems_of(template)
    for logical_id, function in FUNCTIONS.items():
        path = ROOT / "docs" / "functions" / f"{function}.md"
        text = path.read_text()
        if PERMISSIONS_START not in text or PERMISSIONS_END not in text:
            problems.append(f"{path.relative_to(ROOT)} has no permissions section ({PERMISSIONS_START} ... {PERMISSIONS_END})")
            continue
        pages[path] = with_permissions(text, permissions_block(template, logical_id))
    for path, text in pages.items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                problems.append(f"{path.relative_to(ROOT)} is stale: run `make docs-reference` and commit it")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    for problem in problems:
        print(f"docs: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
