"""Every AWS request the functions made in the tests, checked against the roles the template grants.

`make test` runs the integration tests with `AWS_REQUEST_LOG` set: the emulator
(`scripts/moto_server.py`) appends each request whose user agent names a function
(`app/iam-export`, ...; `shared::aws::Aws::for_function`) to that file. This script turns each
request into what IAM evaluates (the action, the resource ARN it names, the condition keys the
template's statements read), and asks an offline IAM evaluator, @cloud-copilot/iam-simulate
(`scripts/least-privilege/`), whether the function's role, as `sam build` translates
template.yaml (or, for a request made with a member role's session, member-role.yaml's role),
allows it.

It fails when a request would be denied, naming the request and the statement to add. It lists
each statement no request needed: either unused (a candidate for removal) or used by an AWS
service on the role's behalf, which no request of the function shows (Lambda's SQS poller, S3's
and SNS's use of a KMS key, Lambda's on-failure destination).

What it does not model, and why it still tells the truth about the template:
- Names. Each test makes its own buckets, tables, topics and prefixes; the template is
  translated with fixed stand-ins, and each request's names are mapped to them (a function's
  bucket is its bucket; its prefixes are `*` in the template, so what follows a prefix, such
  as `thumbnails/` or `_state/`, is still checked). Accounts and regions likewise.
- Organizations: the tests' member accounts are in the hub's organization, so `aws:PrincipalOrgID`
  and `aws:ResourceOrgID` are given the same value.
- Resource policies, SCPs and permission boundaries: none in the stack bears on these requests.
- `s3:ResourceAccount` is the caller's account: the tests never use another account's bucket.
- The s3:ListBucket that S3 consults to answer a missing object with 404 rather than 403 is
  no request of the function's: it is listed as used on the function's behalf.

    python scripts/check_least_privilege.py --log target/aws-requests.jsonl [--self-test]

--self-test also checks copies of the template that each lack a statement the tests needed,
and fails unless each is refused.
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import parse_qs, unquote

from samcli.yamlhelper import yaml_parse

from check_template_deploys import FUNCTIONS, PSEUDO, resolve_ifs, stack_for
from check_template_rules import exit_on

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = ROOT / "scripts" / "least-privilege" / "simulate.mjs"

HUB, MEMBER, REGION = PSEUDO["AWS::AccountId"], "222222222222", PSEUDO["AWS::Region"]
ORGANIZATION = "o-exampleorg1"

# The template translated with these: every optional statement present, prefixes and the
# cluster pattern as wildcards (the tests pick their own), stand-ins for the names.
PARAMETERS = {
    "AlarmEmail": "ops@example.com",
    "EksClusterNamePattern": "*",
    "EksEveryClusterAcknowledged": "true",
    "EksRegions": "eu-west-1,us-east-1",
    "Accounts": "organization",
    "MemberExternalId": "external-id",
    "IamExportPrefix": "*",
    "CostReportPrefix": "*",
    "UploadsPrefix": "*",
    "IamExportKmsKeyArn": f"arn:aws:kms:{REGION}:{HUB}:key/11111111-1111-1111-1111-111111111111",
    "CostReportKmsKeyArn": f"arn:aws:kms:{REGION}:{HUB}:key/22222222-2222-2222-2222-222222222222",
    "UploadsKmsKeyArn": f"arn:aws:kms:{REGION}:{HUB}:key/33333333-3333-3333-3333-333333333333",
    "CostReportSesFrom": "reports@example.com",
    "CostReportSesTo": "finance@example.com",
    "CostReportGroupBy": "LINKED_ACCOUNT,SERVICE",
    "SlackWebhookSecretArn": f"arn:aws:secretsmanager:{REGION}:{HUB}:secret:slack-webhook-AbCdEf",
    "ThumbnailDeleteWithSource": "true",
}
STAND_INS = {
    "ReportBucket": "report-bucket",
    "UploadsBucket": "uploads-bucket",
    "PhotosTable": "photos-table",
    "PhotosTopic": f"arn:aws:sns:{REGION}:{HUB}:photos",
    "NotificationTopic": f"arn:aws:sns:{REGION}:{HUB}:notifications",
    "UploadsQueue": f"arn:aws:sqs:{REGION}:{HUB}:uploads",
    "ScheduledRunFailureQueue": f"arn:aws:sqs:{REGION}:{HUB}:scheduled-run-failures",
    "PhotosApiCursorKey": f"arn:aws:secretsmanager:{REGION}:{HUB}:secret:photos-api-cursor-key-AbCdEf",
}
# The photos API's role names the uploads bucket as the bucket names itself (from the stack's
# id), not by Ref: the bucket's CORS names the API, and a Ref back would be a cycle.
UPLOADS_BUCKET_BY_NAME = "uploads-" + PSEUDO["AWS::StackId"].split("/")[2]
BUCKET_OF = {
    "iam-export": "report-bucket",
    "cost-report": "report-bucket",
    "eks-scheduler": "report-bucket",
    "thumbnailer": "uploads-bucket",
    "photos-api": UPLOADS_BUCKET_BY_NAME,
}
TOPIC_OF = {"eks-scheduler": STAND_INS["NotificationTopic"], "thumbnailer": STAND_INS["PhotosTopic"]}
ROLE_OF = {
    "iam-export": "IamExport",
    "eks-scheduler": "EksScheduler",
    "cost-report": "CostReport",
    "thumbnailer": "Thumbnailer",
    "photos-api": "PhotosApi",
}
SECRET_OF = {"cost-report": PARAMETERS["SlackWebhookSecretArn"], "photos-api": STAND_INS["PhotosApiCursorKey"]}
MEMBER_POLICY_OF = {"iam-export": "iam-export", "eks-scheduler": "eks-scheduler"}

# Statements an AWS service uses with the role, on the function's behalf: no request of the
# function's own shows them.
ON_ITS_BEHALF = {
    "PollUploads": "Lambda's SQS poller receives and deletes the uploads queue's messages",
    "UploadsKey": "S3 decrypts uploads and encrypts thumbnails with the key (kms:ViaService s3)",
    "EncryptAnnouncements": "SNS encrypts the announcements with the topic's key (kms:ViaService sns)",
    "EncryptReports": "S3 encrypts the reports with the key",
    "EncryptCostReports": "S3 encrypts and decrypts the cost CSVs and records with the key",
    "OnFailureSQSPolicy": "Lambda's on-failure destination sends the failed invocation's record",
    "ListCostReportState": "S3 consults it to answer a record not yet written with 404, not 403",
    "ListSavingsLedger": "S3 consults it to answer a stop record not written with 404, not 403",
    "SignThumbnails": "S3 authorizes the gallery's presigned thumbnail URLs as the role's GetObject",
}


def stand_in_names(node, values):
    """Refs and GetAtts of the stack's own resources replaced by the stand-ins, Subs evaluated."""
    if isinstance(node, list):
        return [stand_in_names(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        name = node["Ref"]
        if name in STAND_INS:
            return STAND_INS[name]
        if name in PSEUDO:
            return PSEUDO[name]
        if name in values:
            return values[name]
        raise ValueError(f"a Ref this check cannot name: {name}")
    if set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        name, attribute = target.split(".", 1) if isinstance(target, str) else target
        if attribute == "Arn" and name in STAND_INS:
            value = STAND_INS[name]
            return value if value.startswith("arn:") else f"arn:aws:s3:::{value}"
        raise ValueError(f"a GetAtt this check cannot name: {target}")
    if set(node) == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        text, variables = (value, {}) if isinstance(value, str) else value
        variables = {key: stand_in_names(item, values) for key, item in variables.items()}

        def one(match):
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if name.startswith("aws:"):
                return match.group(0)  # a policy variable, evaluated by IAM
            return str(stand_in_names({"Ref": name}, values))

        return re.sub(r"\$\{([^}]*)\}", one, text)
    if set(node) == {"Fn::Select"}:
        index, items = node["Fn::Select"]
        return stand_in_names(items, values)[int(index)]
    if set(node) == {"Fn::Split"}:
        separator, text = node["Fn::Split"]
        return stand_in_names(text, values).split(separator)
    if set(node) == {"Fn::Join"}:
        separator, items = node["Fn::Join"]
        return separator.join(str(item) for item in stand_in_names(items, values))
    return {key: stand_in_names(value, values) for key, value in node.items()}


def labelled(policy_name, document):
    """The document with a Sid on every statement (SAM's own have none): policy name and index."""
    statements = document["Statement"]
    statements = statements if isinstance(statements, list) else [statements]
    for index, statement in enumerate(statements):
        statement.setdefault("Sid", f"{policy_name}{index}")
    return {**document, "Statement": statements}


def hub_policies(template):
    """Each function's role's policies, as the translated template grants them."""
    _, values, resources = stack_for(template, FUNCTIONS, PARAMETERS)
    roles = {}
    for function, prefix in ROLE_OF.items():
        role = resources[f"{prefix}FunctionRole"]["Properties"]
        policies = []
        for policy in role.get("Policies", []):
            document = stand_in_names(policy["PolicyDocument"], values)
            name = re.sub(r"[^A-Za-z0-9]", "", policy["PolicyName"])
            policies.append({"name": name, "policy": labelled(name, document)})
        roles[function] = policies
    return roles


def member_policies(member_template):
    """member-role.yaml's policy per function, with its defaults."""
    resource = member_template["Resources"]["MemberRole"]
    conditions = {"IamExportOn": True, "EksSchedulerOn": True, "InOrganization": True}
    properties = resolve_ifs(resource["Properties"], conditions)
    member_values = {"EksClusterNamePattern": "*"}
    policies = {}
    for policy in properties["Policies"]:
        document = json.loads(
            json.dumps(policy["PolicyDocument"]).replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", MEMBER)
        )
        document = stand_in_member(document, member_values)
        name = re.sub(r"[^A-Za-z0-9]", "", policy["PolicyName"])
        policies[policy["PolicyName"]] = [{"name": name, "policy": labelled(name, document)}]
    return policies


def stand_in_member(node, values):
    if isinstance(node, list):
        return [stand_in_member(item, values) for item in node]
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"}:
            return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], node["Fn::Sub"])
        if set(node) == {"Ref"}:
            return values[node["Ref"]]
        return {key: stand_in_member(value, values) for key, value in node.items()}
    return node


def arn_in(account_region_arn, account, region):
    return account_region_arn.replace("{account}", account).replace("{region}", region)


def understood(line):
    """(action, resource ARN, context keys) IAM evaluates for one logged request, with the
    test's names replaced by the stand-ins; None for a request IAM does not authorize."""
    function, service, method = line["function"], line["service"], line["method"]
    member = line["assumed_role"]
    account = MEMBER if member else HUB
    region = REGION
    path, query = line["path"], parse_qs(line["query"], keep_blank_values=True)
    body = line["body"]
    form = {key: values[0] for key, values in parse_qs(body).items()} if "=" in body and not body.startswith("{") else {}
    document = json.loads(body) if body.startswith("{") else {}
    context = {}
    if service == "s3":
        bucket, _, key = path.lstrip("/").partition("/")
        bucket_arn = f"arn:aws:s3:::{BUCKET_OF.get(function, bucket)}"
        context["s3:ResourceAccount"] = account
        if not key:
            if method == "HEAD":
                return "s3:ListBucket", bucket_arn, context
            if method == "GET" and ("list-type" in query or not query):
                if "prefix" in query:
                    context["s3:prefix"] = query["prefix"][0]
                return "s3:ListBucket", bucket_arn, context
            if method == "GET" and "versions" in query:
                return "s3:ListBucketVersions", bucket_arn, context
            raise ValueError(f"an S3 bucket request this check does not know: {method} {path}?{line['query']}")
        object_arn = f"{bucket_arn}/{unquote(key)}"
        versioned = "versionId" in query
        action = {
            "GET": "s3:GetObjectVersion" if versioned else "s3:GetObject",
            "HEAD": "s3:GetObjectVersion" if versioned else "s3:GetObject",
            "PUT": "s3:PutObject",
            "DELETE": "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
        }.get(method)
        if action is None or "tagging" in query or "acl" in query:
            raise ValueError(f"an S3 object request this check does not know: {method} {path}?{line['query']}")
        return action, object_arn, context
    if service == "eks":
        parts = [unquote(part) for part in path.strip("/").split("/")]
        cluster = lambda name: f"arn:aws:eks:{region}:{account}:cluster/{name}"  # noqa: E731
        nodegroup = lambda name, group: f"arn:aws:eks:{region}:{account}:nodegroup/{name}/{group}/uuid"  # noqa: E731
        if parts == ["clusters"]:
            return "eks:ListClusters", "*", context
        if parts[0] == "tags":
            arn = "/".join(parts[1:])
            arn = re.sub(r"arn:aws:eks:[^:]+:[0-9]+:", f"arn:aws:eks:{region}:{account}:", arn)
            for tag, value in line.get("resource_tags", {}).items():
                context[f"aws:ResourceTag/{tag}"] = value
            if method == "POST":
                tags = document.get("tags", {})
                context["aws:TagKeys"] = list(tags)
                for tag, value in tags.items():
                    context[f"aws:RequestTag/{tag}"] = value
                return "eks:TagResource", arn, context
            context["aws:TagKeys"] = query.get("tagKeys", [])
            return "eks:UntagResource", arn, context
        if parts[0] == "clusters" and len(parts) == 2:
            return "eks:DescribeCluster", cluster(parts[1]), context
        if parts[0] == "clusters" and parts[2] == "node-groups":
            if len(parts) == 3:
                return "eks:ListNodegroups", cluster(parts[1]), context
            if len(parts) == 4:
                return "eks:DescribeNodegroup", nodegroup(parts[1], parts[3]), context
            if len(parts) == 5 and parts[4] == "update-config":
                return "eks:UpdateNodegroupConfig", nodegroup(parts[1], parts[3]), context
        if parts[0] == "clusters" and parts[2] == "updates":
            # The cluster is the resource DescribeUpdate requires; a nodegroup's is optional.
            return "eks:DescribeUpdate", cluster(parts[1]), context
        if parts[0] == "clusters" and parts[2] == "fargate-profiles":
            return "eks:ListFargateProfiles", cluster(parts[1]), context
        raise ValueError(f"an EKS request this check does not know: {method} {path}")
    if service == "autoscaling":
        action = form["Action"]
        if action == "DescribeAutoScalingGroups":
            return "autoscaling:DescribeAutoScalingGroups", "*", context
        group = form.get("AutoScalingGroupName") or form.get("Tags.member.1.ResourceId", "")
        arn = f"arn:aws:autoscaling:{region}:{account}:autoScalingGroup:uuid:autoScalingGroupName/{group}"
        for tag, value in line.get("resource_tags", {}).items():
            context[f"aws:ResourceTag/{tag}"] = value
            context[f"autoscaling:ResourceTag/{tag}"] = value
        if action in ("CreateOrUpdateTags", "DeleteTags"):
            members = sorted({key.split(".")[2] for key in form if re.fullmatch(r"Tags\.member\.[0-9]+\.Key", key)}, key=int)
            context["aws:TagKeys"] = [form[f"Tags.member.{n}.Key"] for n in members]
            if action == "CreateOrUpdateTags":
                for n in members:
                    context[f"aws:RequestTag/{form[f'Tags.member.{n}.Key']}"] = form.get(f"Tags.member.{n}.Value", "")
        return f"autoscaling:{action}", arn, context
    if service == "iam":
        if form["Action"] in ("GetPolicy", "GetPolicyVersion"):
            return f"iam:{form['Action']}", form["PolicyArn"], context
        if form["Action"] == "ListAccessKeys":
            return "iam:ListAccessKeys", f"arn:aws:iam::{account}:user/{form['UserName']}", context
        return f"iam:{form['Action']}", "*", context
    if service == "ec2":
        # The scheduler's one EC2 call (the spot price) has no resource-level permissions.
        return f"ec2:{form['Action']}", "*", context
    if service == "sts":
        if form.get("Action") == "GetCallerIdentity":
            return None
        role = re.sub(r"arn:aws:iam::[0-9]+:", f"arn:aws:iam::{MEMBER}:", form["RoleArn"])
        context.update({"aws:PrincipalOrgID": ORGANIZATION, "aws:ResourceOrgID": ORGANIZATION, "sts:ExternalId": form.get("ExternalId", "")})
        return f"sts:{form['Action']}", role, context
    operation = line["target"].rpartition(".")[2]
    if service == "organizations":
        parent = document.get("ParentId", "")
        kind = "root" if parent.startswith("r-") else "ou"
        arn = f"arn:aws:organizations::{account}:{kind}/{ORGANIZATION}/{parent}" if parent else "*"
        return f"organizations:{operation}", arn, context
    if service == "ce":
        return f"ce:{operation}", "*", context
    if service == "budgets":
        if operation != "DescribeBudgets":
            raise ValueError(f"a Budgets request this check does not know: {operation}")
        return "budgets:ViewBudget", f"arn:aws:budgets::{account}:budget/*", context
    if service in ("sso", "identitystore"):
        return f"{service}:{operation}", "*", context
    if service == "pricing":
        # Logged by the tests' Price List API (tests/support/price_list.rs): the emulator has none.
        return f"pricing:{operation}", "*", context
    if service == "secretsmanager":
        return "secretsmanager:GetSecretValue", SECRET_OF[function], context
    if service == "events":
        bus = (document.get("Entries") or [{}])[0].get("EventBusName") or "default"
        return "events:PutEvents", f"arn:aws:events:{region}:{account}:event-bus/{bus}", context
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{region}:{account}:table/{STAND_INS['PhotosTable']}"
        # A Query or Scan of an index is authorized on the index's ARN.
        index = document.get("IndexName")
        # The item's partition key, which a statement may restrict (the hash band items' band:*).
        key = (document.get("Key") or document.get("Item") or {}).get("photo_id", {}).get("S")
        if key is not None:
            context["dynamodb:LeadingKeys"] = [key]
        return f"dynamodb:{operation}", f"{table}/index/{index}" if index else table, context
    if service == "sns":
        return f"sns:{form['Action']}", TOPIC_OF[function], context
    if service in ("ses", "email"):
        if method == "POST" and path.endswith("/v2/email/outbound-emails"):
            return "ses:SendEmail", f"arn:aws:ses:{region}:{account}:identity/{PARAMETERS['CostReportSesFrom']}", context
        raise ValueError(f"an SES request this check does not know: {method} {path}")
    raise ValueError(f"a {service} request this check does not know: {method} {path} {line['target']}")


def simulate(cases):
    """iam-simulate's verdict on each case, by id."""
    if not cases:
        return {}
    node = os.environ.get("NODE", "node")
    result = subprocess.run(
        [node, str(SIMULATOR)], input=json.dumps({"cases": cases}), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        sys.exit(f"the IAM simulator failed: {result.stderr.strip()}")
    return {item["id"]: item for item in json.loads(result.stdout)}


def verdicts(requests, hub, member):
    """For each distinct request: its verdict and the statements that allowed it."""
    cases = []
    for index, (function, assumed, action, resource, context) in enumerate(requests):
        if assumed:
            policies = member.get(MEMBER_POLICY_OF.get(function, ""), [])
            principal = f"arn:aws:iam::{MEMBER}:role/CloudOpsToolkitMember"
        else:
            policies = hub[function]
            principal = f"arn:aws:iam::{HUB}:role/{ROLE_OF[function]}FunctionRole"
        account = MEMBER if assumed else HUB
        cases.append(
            {
                "id": index,
                "policies": policies,
                "request": {
                    "action": action,
                    "principal": principal,
                    "resource": {"resource": resource, "accountId": account},
                    "contextVariables": context,
                },
            }
        )
    return simulate(cases)


def distinct_requests(log_path):
    requests, counts, unknown = {}, Counter(), []
    with open(log_path) as log:
        for raw in log:
            line = json.loads(raw)
            line["assumed_role"] = line.get("access_key", "").startswith("ASIA")
            try:
                meaning = understood(line)
            except (ValueError, KeyError) as error:
                unknown.append(f"{line['function']}: {error}")
                continue
            if meaning is None:
                continue
            action, resource, context = meaning
            key = (line["function"], line["assumed_role"], action, resource, json.dumps(context, sort_keys=True))
            requests[key] = (line["function"], line["assumed_role"], action, resource, context)
            counts[line["function"]] += 1
    return list(requests.values()), counts, unknown


def check(template, member_template, requests):
    """(denied requests, statements each role never needed)."""
    hub, member = hub_policies(template), member_policies(member_template)
    results = verdicts(requests, hub, member)
    refused, used = defaultdict(list), defaultdict(set)
    for index, (function, assumed, action, resource, context) in enumerate(requests):
        verdict = results[index]
        role = f"member role ({function})" if assumed else f"{ROLE_OF[function]}FunctionRole"
        if verdict["result"] != "Allowed":
            keys = {key: value for key, value in context.items() if key != "s3:ResourceAccount"}
            why = verdict["result"] + (f"; {json.dumps(verdict['errors'])}" if verdict["errors"] else "")
            refused[(role, action, why)].append((resource, keys))
        used[role].update(verdict["allowed_by"])
    denied = []
    for (role, action, why), cases in sorted(refused.items()):
        resource, keys = cases[0]
        statement = {"Effect": "Allow", "Action": action, "Resource": resource}
        denied.append(
            f"{role} may not {action} ({why}), {len(cases)} distinct request(s), e.g. on {resource}"
            + (f" with {json.dumps(keys, sort_keys=True)}" if keys else "")
            + f": a statement such as {json.dumps(statement)} is missing"
        )
    unused = []
    for function, policies in hub.items():
        role = f"{ROLE_OF[function]}FunctionRole"
        for policy in policies:
            for statement in policy["policy"]["Statement"]:
                sid = statement["Sid"]
                if sid not in used[role]:
                    unused.append((role, sid, behalf_reason(sid)))
    for function, policies in member.items():
        role = f"member role ({function})"
        for policy in policies:
            for statement in policy["policy"]["Statement"]:
                if statement["Sid"] not in used[role]:
                    unused.append((role, statement["Sid"], behalf_reason(statement["Sid"])))
    return denied, unused


def behalf_reason(sid):
    for known, reason in ON_ITS_BEHALF.items():
        if sid.startswith(known) or known in sid:
            return reason
    return None


def without_statement(template, function_logical_id, sid):
    broken = copy.deepcopy(template)
    properties = broken["Resources"][function_logical_id]["Properties"]
    if "Policies" in properties:
        statements = properties["Policies"][0]["Statement"]
    else:
        # A role the template writes out itself (the EKS scheduler's): the policy holding the Sid.
        policies = broken["Resources"][f"{function_logical_id}Role"]["Properties"]["Policies"]
        statements = next(
            p["PolicyDocument"]["Statement"]
            for p in policies
            if any(isinstance(s, dict) and s.get("Sid") == sid for s in p["PolicyDocument"]["Statement"])
        )
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Sid") == sid)]
    if len(kept) == len(statements):
        raise KeyError(f"{function_logical_id} has no statement {sid}")
    statements[:] = kept
    return broken


# Statements the tests need, each removed from a copy of the template for the self-test.
NEEDED = [
    ("IamExportFunction", "WriteReports"),
    ("EksSchedulerFunction", "TagOptedInClustersStop"),
    ("EksSchedulerFunction", "WriteSavingsLedger"),
    ("EksSchedulerFunction", "ReadInstancePrices"),
    ("CostReportFunction", "ReadCostReportState"),
    ("ThumbnailerFunction", "WriteThumbnails"),
    ("PhotosApiFunction", "ReadGalleries"),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", required=True)
    parser.add_argument("--template", default=str(ROOT / "template.yaml"))
    parser.add_argument("--member-template", default=str(ROOT / "member-role.yaml"))
    parser.add_argument("--self-test", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(args.log) or os.path.getsize(args.log) == 0:
        sys.exit(f"{args.log}: no request was logged; run the integration tests with AWS_REQUEST_LOG set to it")
    template = yaml_parse(Path(args.template).read_text())
    member_template = yaml_parse(Path(args.member_template).read_text())
    requests, counts, unknown = distinct_requests(args.log)
    problems = [f"a request this check cannot read: {item}" for item in sorted(set(unknown))]
    for function in ROLE_OF:
        if counts[function] == 0:
            problems.append(f"{function}: the tests logged none of its requests")
    denied, unused = check(template, member_template, requests)
    problems += denied
    exit_on(problems, "least privilege")
    print(
        f"least privilege: {sum(counts.values())} requests of the functions ({len(requests)} distinct; "
        + ", ".join(f"{function} {counts[function]}" for function in ROLE_OF)
        + ") each allowed by its role as the template grants it"
    )
    for role, sid, reason in unused:
        if reason:
            print(f"  {role}: {sid} is used by AWS on the function's behalf: {reason}")
    for role, sid, reason in unused:
        if not reason:
            print(f"  {role}: {sid} was needed by no request in the tests")
    if args.self_test:
        for function_logical_id, sid in NEEDED:
            broken_denied, _ = check(without_statement(template, function_logical_id, sid), member_template, requests)
            if not broken_denied:
                sys.exit(f"least privilege self-test: without {function_logical_id}'s {sid}, no request was denied")
            print(f"  self-test: without {function_logical_id}'s {sid}, the check fails: {broken_denied[0]}")


if __name__ == "__main__":
    main()
