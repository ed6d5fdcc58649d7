"""What a stack deploying some of the functions holds, read from the template as `sam build` translates it.

Translates template.yaml with aws-sam-translator (what `sam build` and CloudFormation's SAM
transform run) for each function alone (the photos API beside the thumbnailer it needs), all five
and none, evaluates the template's conditions
for those parameter values, keeps the resources CloudFormation would create and resolves every
Fn::If in them. Then checks, for each set of functions:

- each resource exists exactly when a deployed function needs it: each resource's owners are
  told by its name below (a resource this table does not know fails the check, so a new one is
  placed on purpose), and a shared one exists when any of its owners is deployed;
- no kept resource names one that is not kept (a Ref, GetAtt or ${} that would not resolve);
- the IAM actions the stack grants include none that only a function left out needs;
- the dashboard's body is JSON with one section per deployed function;
- the photos API has each of its function's routes, all but the page behind the authorizer, and
  its hosted sign-in sends users back to the page's address (the API's URL) and nowhere else;
- the parameter groups shown by `sam deploy --guided` and the console hold every parameter
  once, in the Parameters' own order, each with a label.

    python scripts/check_template_deploys.py [--template template.yaml] [--self-test]

--self-test also runs the check on broken copies of the template, each of which it must fail.
"""

import argparse
import copy
import json
import logging
import os
import re
import sys

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

from check_template_rules import evaluate, exit_on, refusals

FUNCTIONS = ["IamExport", "EksScheduler", "CostReport", "Thumbnailer", "PhotosApi"]
# Functions that are deployed only beside others: the photos API lists the thumbnailer's catalogue.
NEEDS = {"PhotosApi": ["Thumbnailer"]}
DEPLOY_PARAMETER = {function: f"Deploy{function}" for function in FUNCTIONS}

# Which functions need a resource, by its logical id's start (the longest match wins).
# SAM's generated resources start with their function's id (its role, schedules, mappings).
OWNERS = {
    "IamExport": {"IamExport"},
    "EksScheduler": {"EksScheduler"},
    "CostReport": {"CostReport"},
    "Thumbnailer": {"Thumbnailer"},
    "Uploads": {"Thumbnailer"},
    "Photos": {"Thumbnailer"},
    "PhotosApi": {"PhotosApi"},
    "ReportBucket": {"IamExport", "CostReport", "EksScheduler"},
    "ScheduledRunFailure": {"IamExport", "EksScheduler", "CostReport"},
    "Notification": set(FUNCTIONS),
    "Dashboard": set(FUNCTIONS),
    "TraceLogLines": set(FUNCTIONS),
}

# Actions only one function's work needs: a stack without that function grants none of them.
OWN_ACTIONS = {
    "IamExport": {"iam:GenerateCredentialReport", "iam:GetCredentialReport", "iam:GetAccountAuthorizationDetails"},
    "EksScheduler": {"eks:UpdateNodegroupConfig", "eks:TagResource", "eks:ListClusters", "events:PutEvents"},
    "CostReport": {"ce:GetCostAndUsage", "ce:GetCostForecast", "ses:SendEmail"},
    "Thumbnailer": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "sqs:ReceiveMessage",
                    "sqs:DeleteMessage"},
    # The thumbnailer queries the near-duplicate index; only the photos API the galleries'.
    "PhotosApi": {"dynamodb:Query on index/by-owner"},
}

SECTION_TITLE = {
    "IamExport": "## IAM export",
    "EksScheduler": "## EKS scheduler",
    "CostReport": "## Cost report",
    "Thumbnailer": "## Thumbnailer",
    "PhotosApi": "## Photos API",
}

PSEUDO = {
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "ops",
    "AWS::StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/ops/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::NoValue": None,
}

# The translator reads the region for its pseudo parameters; no AWS call is made.
os.environ.setdefault("AWS_DEFAULT_REGION", PSEUDO["AWS::Region"])

# The translator's own usage metrics, never sent from here, warn on every run.
logging.getLogger("samtranslator").setLevel(logging.ERROR)

REMOVED = object()  # what AWS::NoValue leaves: the property or list item is dropped


def owners_of(logical_id):
    prefixes = [prefix for prefix in OWNERS if logical_id.startswith(prefix)]
    if not prefixes:
        return None
    return OWNERS[max(prefixes, key=len)]


def resolve_ifs(node, conditions):
    """The node as CloudFormation sees it once the conditions are known: each Fn::If replaced by
    its chosen branch, and AWS::NoValue removed."""
    if isinstance(node, list):
        items = [resolve_ifs(item, conditions) for item in node]
        return [item for item in items if item is not REMOVED]
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            condition, when_true, when_false = node["Fn::If"]
            return resolve_ifs(when_true if conditions[condition] else when_false, conditions)
        if node == {"Ref": "AWS::NoValue"}:
            return REMOVED
        items = {key: resolve_ifs(value, conditions) for key, value in node.items()}
        return {key: value for key, value in items.items() if value is not REMOVED}
    return node


def names_used(node):
    """Every logical id or parameter a node names: Ref, Fn::GetAtt and the ${} of Fn::Sub."""
    if isinstance(node, list):
        for item in node:
            yield from names_used(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                yield value
            elif key == "Fn::GetAtt":
                yield (value.split(".")[0] if isinstance(value, str) else value[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else value
                for name in re.findall(r"\$\{([^!}][^}]*)\}", text):
                    if name.split(".")[0] not in variables:
                        yield name.split(".")[0]
                yield from names_used(variables)
            else:
                yield from names_used(value)


def substituted(node, values):
    """A dashboard body's text: Fn::Join and Fn::Sub evaluated with placeholder values."""
    if isinstance(node, str):
        return node
    if "Fn::Join" in node:
        separator, items = node["Fn::Join"]
        return separator.join(substituted(item, values) for item in items)
    if "Fn::Sub" in node:
        text = node["Fn::Sub"]
        return re.sub(r"\$\{([^}]*)\}", lambda match: str(values.get(match.group(1), match.group(1))), text)
    raise ValueError(f"not a text: {node}")


def stack_for(template, deployed, base):
    """The resources a stack deploying `deployed` creates, with every Fn::If resolved."""
    overrides = {**base, **{DEPLOY_PARAMETER[f]: "true" if f in deployed else "false" for f in FUNCTIONS}}
    parameters = template["Parameters"]
    values = {name: overrides.get(name, spec.get("Default")) for name, spec in parameters.items()}

    class NoManagedPolicies:
        def load(self):
            return {}

    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            # What `sam package` puts there: the uploaded build of the function.
            resource["Properties"]["CodeUri"] = f"s3://artifacts/{logical_id}.zip"
    translated = transform(packaged, dict(values), NoManagedPolicies())
    values.update(PSEUDO)
    raw_conditions = translated.get("Conditions", {})
    conditions = {name: bool(evaluate(expr, values, raw_conditions)) for name, expr in raw_conditions.items()}
    resources = {}
    for logical_id, resource in translated["Resources"].items():
        if "Condition" in resource and not conditions[resource["Condition"]]:
            continue
        resources[logical_id] = resolve_ifs(resource, conditions)
    return overrides, values, resources


def problems_of(template, deployed, every_resource, base):
    overrides, values, resources = stack_for(template, deployed, base)
    what = "+".join(deployed) or "none"
    problems = []
    for logical_id in sorted(every_resource):
        owners = owners_of(logical_id)
        if owners is None:
            problems.append(f"{logical_id}: which function needs it? Add its name's start to OWNERS")
            continue
        wanted = bool(owners & set(deployed))
        if wanted != (logical_id in resources):
            verb = "lacks" if wanted else "holds"
            problems.append(f"{what}: {verb} {logical_id} (needed by {sorted(owners)})")
    for logical_id, resource in resources.items():
        for name in set(names_used(resource)):
            if name not in resources and name not in values:
                problems.append(f"{what}: {logical_id} names {name}, which this stack does not have")
    granted = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                granted |= set(actions)
                if "dynamodb:Query" in actions and "index/by-owner" in json.dumps(statement.get("Resource", "")):
                    granted.add("dynamodb:Query on index/by-owner")
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement.get("Action", [])
                actions = [actions] if isinstance(actions, str) else actions
                pinned = any("s3:ResourceAccount" in clause for clause in statement.get("Condition", {}).values())
                if any(action.startswith("s3:") for action in actions) and not pinned:
                    problems.append(
                        f"{what}: {logical_id}'s {statement.get('Sid', actions)} names a bucket by name alone; "
                        "add the condition s3:ResourceAccount (the bucket's owner)"
                    )
    for function in FUNCTIONS:
        if function in deployed:
            continue
        wrongly = granted & OWN_ACTIONS[function]
        if wrongly:
            problems.append(f"{what}: grants {sorted(wrongly)}, which only {function} needs")
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        managed = [arn for arn in resource["Properties"].get("ManagedPolicyArns", []) if not _is_sams_own(arn)]
        if managed:
            problems.append(f"{what}: {logical_id} holds managed policies {managed}; grant what it needs in its own statements")
    if "Dashboard" in resources:
        body_node = resources["Dashboard"]["Properties"]["DashboardBody"]
        body = substituted(body_node, {**values, **{name: name for name in resources}})
        try:
            widgets = json.loads(body)["widgets"]
        except ValueError as error:
            problems.append(f"{what}: the dashboard's body is not JSON ({error})")
        else:
            titles = [w["properties"].get("markdown") for w in widgets if w["type"] == "text"]
            expected = [SECTION_TITLE[f] for f in FUNCTIONS if f in deployed]
            if titles[1:] != expected:
                problems.append(f"{what}: the dashboard's sections are {titles[1:]}, expected {expected}")
    problems += [f"{what}: {problem}" for problem in photos_api_problems(template, resources)]
    if not deployed and not refusals(template, overrides):
        problems.append("none: a deploy of no function goes through; a Rule must refuse it")
    return problems, len(resources)


# The photos API's routes (functions/photos-api/src/core/http.rs); all but the page need a token.
PHOTOS_ROUTES = {"GET /", "POST /uploads", "GET /photos", "GET /photos/{id+}", "DELETE /photos/{id+}"}


def photos_api_problems(template, resources):
    """The photos API reaches its function by every route and no other, each route but the page
    behind the authorizer, and the hosted sign-in sends users back to the page's address."""
    if "PhotosApiHttpApi" not in resources:
        return []
    problems = []
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
    if set(routes) != PHOTOS_ROUTES:
        problems.append(f"the photos API's routes are {sorted(routes)}, expected {sorted(PHOTOS_ROUTES)}")
    for key, route in routes.items():
        wanted = "NONE" if key == "GET /" else "JWT"
        if route.get("AuthorizationType") != wanted or (wanted == "JWT") != ("AuthorizerId" in route):
            problems.append(f"the photos route {key} must have authorization {wanted}")
    client = resources.get("PhotosApiUserPoolClient")
    if client is not None:
        page = template["Outputs"]["PhotosApiUrl"]["Value"]
        for setting in ("CallbackURLs", "LogoutURLs"):
            if client["Properties"].get(setting) != [page]:
                problems.append(f"the app client's {setting} are {client['Properties'].get(setting)}, not the page's address {page}")
    return problems


# What SAM adds to every function role it makes: Lambda's own logging, and with Tracing: Active
# the X-Ray daemon's writes (PutTraceSegments, PutTelemetryRecords, the sampling rules' reads).
SAMS_OWN_POLICIES = (":policy/service-role/AWSLambdaBasicExecutionRole", ":policy/AWSXrayWriteOnlyAccess")


def _is_sams_own(arn):
    text = arn["Fn::Sub"] if isinstance(arn, dict) and "Fn::Sub" in arn else arn
    return isinstance(text, str) and text.endswith(SAMS_OWN_POLICIES)


def visibility_problems(template):
    """The uploads queue's visibility timeout, for every timeout the thumbnailer may have: at least six
    times the function's timeout plus the longest batching window, as Lambda asks of an SQS source."""
    parameters = template["Parameters"]
    longest_window = int(parameters["ThumbnailBatchWindowSeconds"]["MaxValue"])
    table = template["Mappings"]["ThumbnailTimeout"]
    problems = []
    for timeout in parameters["ThumbnailTimeoutSeconds"]["AllowedValues"]:
        _, _, resources = stack_for(template, ["Thumbnailer"], {"AlarmEmail": "ops@example.com", "ThumbnailTimeoutSeconds": str(timeout)})
        function_timeout = resources["ThumbnailerFunction"]["Properties"]["Timeout"]
        lookup = resources["UploadsQueue"]["Properties"]["VisibilityTimeout"]["Fn::FindInMap"]
        if function_timeout != {"Ref": "ThumbnailTimeoutSeconds"} or lookup[1] != {"Ref": "ThumbnailTimeoutSeconds"}:
            problems.append("the thumbnailer's Timeout and the uploads queue's VisibilityTimeout must both follow ThumbnailTimeoutSeconds")
            break
        visibility = int(table.get(str(timeout), {}).get("VisibilityTimeout", 0))
        if visibility < 6 * int(timeout) + longest_window:
            problems.append(f"a {timeout} s timeout gets a visibility timeout of {visibility} s, under 6 x {timeout} + {longest_window}")
    return problems


def interface_problems(template):
    interface = template.get("Metadata", {}).get("AWS::CloudFormation::Interface", {})
    grouped = [name for group in interface.get("ParameterGroups", []) for name in group["Parameters"]]
    parameters = list(template["Parameters"])
    problems = []
    if grouped != parameters:
        missing = sorted(set(parameters) - set(grouped))
        twice = sorted({name for name in grouped if grouped.count(name) > 1})
        problems.append(
            "the parameter groups must hold every parameter once, in the Parameters' order "
            f"(sam deploy --guided asks in that order); not grouped: {missing}, grouped twice: {twice}"
        )
    unlabelled = sorted(set(parameters) - set(interface.get("ParameterLabels", {})))
    if unlabelled:
        problems.append(f"parameters without a label: {unlabelled}")
    return problems


EC2_NETWORK_INTERFACES = "ec2:CreateNetworkInterface"


def eks_vpc_problems(template, base):
    """The EKS scheduler in a VPC (EksKubernetesApiSubnetIds) and out of one: its function has a
    VpcConfig and its role the network interface permissions only in one; no managed policy either way."""
    problems = []
    in_vpc = {"EksKubernetesApiSubnetIds": "subnet-0a1b2c3d", "EksKubernetesApiSecurityGroupIds": "sg-0123abcd"}
    for label, overrides, wanted in [("outside a VPC", {}, False), ("in a VPC", in_vpc, True)]:
        _, _, resources = stack_for(template, ["EksScheduler"], {**base, **overrides})
        role = resources["EksSchedulerFunctionRole"]["Properties"]
        actions = set()
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                action = statement.get("Action", [])
                actions.update([action] if isinstance(action, str) else action)
        has_vpc = "VpcConfig" in resources["EksSchedulerFunction"]["Properties"]
        if has_vpc != wanted or (EC2_NETWORK_INTERFACES in actions) != wanted:
            problems.append(
                f"EksScheduler {label}: VpcConfig {'present' if has_vpc else 'absent'}, "
                f"{EC2_NETWORK_INTERFACES} {'granted' if EC2_NETWORK_INTERFACES in actions else 'not granted'}; "
                f"both must be {'there' if wanted else 'absent'}"
            )
        managed = [arn for arn in role.get("ManagedPolicyArns", []) if not _is_sams_own(arn)]
        if managed:
            problems.append(f"EksScheduler {label}: its role holds managed policies {managed}")
    return problems


def check(template):
    """Every problem of `template`, and how many resources each set of functions deploys."""
    # A deploy the Rules let through: someone hears of the alarms.
    base = {"AlarmEmail": "ops@example.com", "EksClusterNamePattern": "staging-*"}
    _, _, every_resource = stack_for(template, FUNCTIONS, base)
    problems = interface_problems(template) + visibility_problems(template) + eks_vpc_problems(template, base)
    counts = {}
    for deployed in [[]] + [NEEDS.get(function, []) + [function] for function in FUNCTIONS] + [FUNCTIONS]:
        found, count = problems_of(template, deployed, every_resource, base)
        problems += found
        counts["+".join(deployed) or "none"] = count
    return problems, counts


def broken_copies(template):
    """(what is broken, a copy of the template with it broken), for the self-test."""
    copies = []

    def broken(what, change):
        copy_ = copy.deepcopy(template)
        change(copy_)
        copies.append((what, copy_))

    broken("the uploads queue deployed always", lambda t: t["Resources"]["UploadsQueue"].pop("Condition"))
    broken(
        "the failure queue only with the thumbnailer",
        lambda t: t["Resources"]["ScheduledRunFailureQueue"].update(Condition="ThumbnailerOn"),
    )
    broken(
        "a visibility timeout too short for a 300 s timeout",
        lambda t: t["Mappings"]["ThumbnailTimeout"]["300"].update(VisibilityTimeout=1800),
    )
    broken(
        "the uploads read through SAM's SQS event (its managed policy reaches every queue)",
        lambda t: t["Resources"]["ThumbnailerFunction"]["Properties"].update(
            Events={"Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["UploadsQueue", "Arn"]}}}}
        ),
    )
    def report_writes_by_name_alone(t):
        statements = t["Resources"]["IamExportFunction"]["Properties"]["Policies"][0]["Statement"]
        next(s for s in statements if isinstance(s, dict) and s.get("Sid") == "WriteReports").pop("Condition")

    broken("the reports written to a bucket trusted by name alone", report_writes_by_name_alone)
    broken("no Rule against deploying nothing", lambda t: t["Rules"].pop("DeploySomething"))
    broken(
        "a parameter in no group",
        lambda t: t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"][0]["Parameters"].pop(),
    )

    def iam_export_row_on_eks(t):
        rows = t["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Join"][1]
        rows[1]["Fn::If"][0] = "EksSchedulerOn"

    broken("the IAM export's dashboard row shown with the EKS scheduler", iam_export_row_on_eks)

    def cost_reads_on_thumbnailer(t):
        statements = t["Resources"]["ThumbnailerFunction"]["Properties"]["Policies"][0]["Statement"]
        statements.append({"Effect": "Allow", "Action": "ce:GetCostAndUsage", "Resource": "*"})

    broken("the thumbnailer granted Cost Explorer reads", cost_reads_on_thumbnailer)
    broken(
        "a photos route without the authorizer",
        lambda t: t["Resources"]["PhotosApiListPhotosRoute"]["Properties"].update(AuthorizationType="NONE"),
    )
    broken(
        "the hosted sign-in sending users back to a page without its slash",
        lambda t: t["Resources"]["PhotosApiUserPoolClient"]["Properties"]["CallbackURLs"][0]["Fn::If"][1].update(
            {"Fn::Sub": "https://${PhotosApiHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
        ),
    )
    def network_interfaces_always(t):
        statements = t["Resources"]["EksSchedulerFunctionRole"]["Properties"]["Policies"][1]["PolicyDocument"]
        statements["Statement"][-1] = statements["Statement"][-1]["Fn::If"][1]

    broken("the EKS scheduler's network interface permissions granted outside a VPC", network_interfaces_always)
    return copies


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    with open(args.template) as handle:
        template = yaml_parse(handle.read())
    problems, counts = check(template)
    exit_on(problems, args.template)
    caught = 0
    if args.self_test:
        copies = broken_copies(template)
        for what, broken in copies:
            found, _ = check(broken)
            if not found:
                print(f"self-test: the check missed a broken copy: {what}", file=sys.stderr)
                sys.exit(1)
            caught += 1
    summary = ", ".join(f"{deployed} {count}" for deployed, count in counts.items())
    print(f"deploys: each function alone (the photos API with the thumbnailer), all five and none hold what they need and nothing else ({summary} resources)")
    if args.self_test:
        print(f"deploys: the check caught all {caught} broken copies")

if __name__ == "__main__":
    main()
