"""`make demo`: runs each function as its real Lambda binary against a local AWS emulator.

It starts the moto server on a free loopback port, seeds a realistic account, starts
`cargo lambda watch` for each function with its configuration pointing at the emulator,
invokes it with the sample events in events/, prints what the function did, and stops
everything it started. Files the functions wrote are also copied under demo-output/.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.server
import io
import json
import logging
import os
import random
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo-output"
sys.path.insert(0, str(ROOT / "scripts"))
import traces  # noqa: E402

# Lambda's X-Ray daemon, played here: every function the demo runs sends its subsegments to it.
XRAY = traces.Daemon()
# The trace of the first upload of the photos app (its POST /uploads answer names it).
PHOTO_TRACES: list[str] = []
ACCOUNT = "123456789012"  # moto's default account
REGION = "eu-west-1"


def heading(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def table(rows: list[dict], columns: list[str], limit: int | None = None) -> None:
    """Prints rows as an aligned text table."""
    shown = rows if limit is None else rows[:limit]
    widths = {c: max([len(c)] + [len(str(r.get(c, ""))) for r in shown]) for c in columns}
    widths = {c: min(w, 72) for c, w in widths.items()}

    def cut(value: str, width: int) -> str:
        return value if len(value) <= width else value[: width - 1] + "…"

    print("  " + "  ".join(c.ljust(widths[c]) for c in columns))
    print("  " + "  ".join("-" * widths[c] for c in columns))
    for row in shown:
        print("  " + "  ".join(cut(str(row.get(c, "")), widths[c]).ljust(widths[c]) for c in columns))
    if limit is not None and len(rows) > limit:
        print(f"  … and {len(rows) - limit} more rows")


@contextmanager
def serving(handler) -> str:
    """An HTTP server on a free loopback port, answering with `handler` on a thread; yields its URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server():
    """The emulator, in this process, so the demo can also read what it holds (sent emails);
    with the tests' trust policy check on STS AssumeRole (scripts/moto_server.py)."""
    from moto_server import GatedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    server = GatedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def env_file_value(value: str) -> str:
    """A value as cargo-lambda's env-file parser (dotenvy) reads it back: it refuses an unquoted value
    holding "=", spaces or quotes; single quotes keep a JSON value's double quotes as they are."""
    if "'" not in value and any(c in value for c in "\"= {}"):
        return f"'{value}'"
    return json.dumps(value) if "=" in value else value


@contextmanager
def lambda_function(package: str, endpoint: str, env: dict[str, str], log_name: str | None = None):
    """`cargo lambda watch` serving one function's real binary; yields an invoke callable.
    Its log is demo-output/`log_name` (the package's name by default).log."""
    subprocess.run(["cargo", "build", "--quiet", "--locked", "-p", package, "--bin", package], cwd=ROOT, check=True)
    port = free_port()
    variables = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_REGION": REGION,
        "RUST_LOG": "info",
        "AWS_XRAY_DAEMON_ADDRESS": XRAY.address,
        **env,
    }
    command = ["cargo", "lambda", "watch", "--quiet", "--ignore-changes", "--invoke-address", "127.0.0.1",
               "--invoke-port", str(port), "-p", package]
    # An env file, not --env-var: that option splits values on commas.
    env_file = OUTPUT / f"{log_name or package}.env"
    env_file.write_text("".join(f"{key}={env_file_value(value)}\n" for key, value in variables.items()))
    command += ["--env-file", str(env_file)]
    log_path = OUTPUT / f"{log_name or package}.log"
    log = open(log_path, "w")
    watch = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def invoke(event_file: str, payload: dict | None = None) -> tuple[bool, dict | str]:
        """Invokes the function with an events/ file (or with `payload`, saved as
        demo-output/`event_file`), saying so, and saying so again if it fails."""
        path = ROOT / "events" / event_file
        if payload is not None:
            path = OUTPUT / event_file
            path.write_text(json.dumps(payload, indent=2))
        print(f"\n$ cargo lambda invoke {package} --data-file {path.relative_to(ROOT)}", flush=True)
        result = subprocess.run(
            ["cargo", "lambda", "invoke", package, "--invoke-address", "127.0.0.1", "--invoke-port", str(port),
             "--data-file", str(path), "--output-format", "json"],
            cwd=ROOT, capture_output=True, text=True,
        )
        if result.returncode != 0:
            failure = (result.stdout + result.stderr).strip()
            print(f"  FAILED: {failure}")
            return False, failure
        return True, json.loads(result.stdout)

    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if watch.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"cargo lambda watch did not start; see {log_path}")
                time.sleep(0.2)
        yield invoke
    finally:
        if watch.poll() is None:
            os.killpg(watch.pid, signal.SIGTERM)
            watch.wait(timeout=15)
        log.close()


def clients(endpoint: str):
    config = Config(region_name=REGION, retries={"max_attempts": 2}, s3={"addressing_style": "path"})
    session = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo")
    return {name: session.client(name, endpoint_url=endpoint, config=config) for name in ("iam", "s3", "eks", "autoscaling", "sesv2", "secretsmanager", "dynamodb", "sns", "sqs", "sso-admin", "identitystore", "budgets")}


# ---------------------------------------------------------------- IAM export

PEOPLE = [
    # name, path, groups, console, mfa, keys, tags
    ("alice.martin", "/staff/", ["Admins"], True, True, 1, {"team": "platform", "cost-center": "cc-100"}),
    ("bob.nguyen", "/staff/", ["Developers"], True, False, 2, {"team": "payments", "cost-center": "cc-210"}),
    ("chloe.dubois", "/staff/", ["Developers", "ReadOnly"], True, True, 0, {"team": "search", "display-name": "Chloé Dubois"}),
    ("dmitri.ivanov", "/staff/", ["Developers"], True, False, 1, {"team": "data", "cost-center": "cc-300"}),
    ("emma.wilson", "/staff/", ["Billing"], True, True, 0, {"team": "finance", "cost-center": "cc-900"}),
    ("farid.haddad", "/contractors/", ["ReadOnly"], True, False, 0, {"team": "audit", "company": "Ledger & Co"}),
    ("grace.hopper", "/staff/", ["Admins", "Developers"], True, True, 2, {"team": "platform", "cost-center": "cc-100"}),
    ("ci-deployer", "/service/", ["Deployers"], False, False, 1, {"purpose": "ci", "owner": "platform@example.com"}),
    ("backup+restore", "/service/", [], False, False, 1, {"purpose": "backups"}),
    ("=HYPERLINK(\"http://evil.example\")", "/", [], False, False, 0, {"note": "formula injection attempt"}),
    ("@monitoring", "/service/", ["ReadOnly"], False, False, 1, {"purpose": "monitoring"}),
    ("legacy-etl", "/service/", [], False, False, 2, {"purpose": "etl", "status": "to be retired"}),
]
GROUP_POLICIES = {"Admins": "AdminAccess", "Developers": "DeveloperAccess", "ReadOnly": "ViewOnly",
                  "Billing": "BillingAccess", "Deployers": "DeployPipelines"}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
# What the groups' policies allow, so the export finds who is an administrator and through what.
GROUP_DOCUMENTS = {
    "AdminAccess": json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
    # Developers deploy functions with any role: an administrator if a powerful role exists ("possible").
    "DeveloperAccess": json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "PassAnyRole", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
        {"Sid": "Functions", "Effect": "Allow", "Action": ["lambda:CreateFunction", "lambda:InvokeFunction"], "Resource": "*"}]}),
}


def seed_iam(iam, s3) -> dict[str, list[tuple[str, str]]]:
    """Seeds the account; returns the access keys made for each user."""
    s3.create_bucket(Bucket="acme-iam-audit", CreateBucketConfiguration={"LocationConstraint": REGION})
    arns = {}
    for group, policy in GROUP_POLICIES.items():
        iam.create_group(GroupName=group)
        document = GROUP_DOCUMENTS.get(policy, POLICY)
        arns[policy] = iam.create_policy(PolicyName=policy, PolicyDocument=document)["Policy"]["Arn"]
        iam.attach_group_policy(GroupName=group, PolicyArn=arns[policy])
    keys = {}
    for name, path, groups, console, mfa, key_count, tags in PEOPLE:
        iam.create_user(UserName=name, Path=path, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        for group in groups:
            iam.add_user_to_group(GroupName=group, UserName=name)
        if console:
            iam.create_login_profile(UserName=name, Password="Demo-Password-2026!")
        if mfa:
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"mfa-{name}")["VirtualMFADevice"]["SerialNumber"]
            iam.enable_mfa_device(UserName=name, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321")
        keys[name] = [
            (k["AccessKeyId"], k["SecretAccessKey"])
            for k in (iam.create_access_key(UserName=name)["AccessKey"] for _ in range(key_count))
        ]
    iam.attach_user_policy(UserName="ci-deployer", PolicyArn=arns["DeployPipelines"])
    iam.put_user_policy(UserName="legacy-etl", PolicyName="etl-buckets", PolicyDocument=POLICY)
    iam.put_user_policy(UserName="backup+restore", PolicyName="backup-vault", PolicyDocument=POLICY)
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="iam-export-function", Path="/service-role/", AssumeRolePolicyDocument=json.dumps(trust))
    cross = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::210987654321:root"}, "Action": "sts:AssumeRole",
         "Condition": {"StringEquals": {"sts:ExternalId": "auditor-2026"}}}]}
    iam.create_role(RoleName="external-auditor", AssumeRolePolicyDocument=json.dumps(cross))
    iam.put_role_policy(RoleName="external-auditor", PolicyName="read-reports", PolicyDocument=POLICY)
    return keys


# Identity Center: the people who sign in through it (most of an organization's), their groups,
# and permission sets of each kind, assigned here and in a production account the run does not read.
IC_PEOPLE = [("maria.garcia", "Maria Garcia"), ("li.wei", "Li Wei"), ("sam.okafor", "Sam Okafor"),
             ("nina.berg", "Nina Berg"), ("old.contractor", "Old Contractor")]
IC_GROUPS = {"platform-admins": ["maria.garcia"], "developers": ["li.wei", "sam.okafor"]}
PROD_ACCOUNT = "210987654321"


def seed_identity_center(sso, store) -> None:
    instance = sso.list_instances()["Instances"][0]
    arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    users = {}
    for name, display in IC_PEOPLE:
        given, family = display.split(" ", 1)
        users[name] = store.create_user(
            IdentityStoreId=store_id, UserName=name, DisplayName=display, Name={"GivenName": given, "FamilyName": family},
            Emails=[{"Value": f"{name}@example.com", "Type": "work", "Primary": True}])["UserId"]
    groups = {}
    for group, members in IC_GROUPS.items():
        groups[group] = store.create_group(IdentityStoreId=store_id, DisplayName=group)["GroupId"]
        for member in members:
            store.create_group_membership(IdentityStoreId=store_id, GroupId=groups[group], MemberId={"UserId": users[member]})
    sets = {}
    for name, duration in (("AdministratorAccess", "PT1H"), ("ReadOnly", "PT8H"), ("Developer", "PT8H"), ("LegacyOps", "PT12H")):
        sets[name] = sso.create_permission_set(InstanceArn=arn, Name=name, SessionDuration=duration)["PermissionSet"]["PermissionSetArn"]
    sso.attach_managed_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=sets["AdministratorAccess"],
                                                ManagedPolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    for name in ("ReadOnly", "LegacyOps"):
        sso.attach_managed_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=sets[name],
                                                    ManagedPolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    # Developers hold this account's own DeveloperAccess policy (PassRole and Lambda) and an inline one.
    sso.attach_customer_managed_policy_reference_to_permission_set(
        InstanceArn=arn, PermissionSetArn=sets["Developer"], CustomerManagedPolicyReference={"Name": "DeveloperAccess", "Path": "/"})
    sso.put_inline_policy_to_permission_set(InstanceArn=arn, PermissionSetArn=sets["Developer"], InlinePolicy=POLICY)
    assign = lambda account, permission_set, kind, principal: sso.create_account_assignment(  # noqa: E731
        InstanceArn=arn, TargetId=account, TargetType="AWS_ACCOUNT", PermissionSetArn=sets[permission_set],
        PrincipalType=kind, PrincipalId=principal)
    for account in (ACCOUNT, PROD_ACCOUNT):
        assign(account, "AdministratorAccess", "GROUP", groups["platform-admins"])
        assign(account, "Developer", "GROUP", groups["developers"])
    assign(PROD_ACCOUNT, "ReadOnly", "USER", users["nina.berg"])


def use_keys(endpoint: str, keys: dict[str, list[tuple[str, str]]]) -> None:
    """Makes a few calls signed with seeded keys, so the report shows real last-used data."""
    for name in ("ci-deployer", "bob.nguyen", "@monitoring"):
        key_id, secret = keys[name][0]
        session = boto3.session.Session(aws_access_key_id=key_id, aws_secret_access_key=secret)
        session.client("s3", endpoint_url=endpoint, region_name=REGION).list_buckets()


def read_csv(s3, bucket: str, key: str) -> list[dict]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    (OUTPUT / Path(key).name).write_bytes(body)
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


def demo_iam_export(endpoint: str) -> bool:
    heading("iam-export: every IAM user to a CSV in S3 for auditors")
    aws = clients(endpoint)
    keys = seed_iam(aws["iam"], aws["s3"])
    use_keys(endpoint, keys)
    seed_identity_center(aws["sso-admin"], aws["identitystore"])
    print(f"Seeded {len(PEOPLE)} users in 5 groups, 2 roles, console passwords, MFA devices and access keys;")
    print(f"Identity Center: {len(IC_PEOPLE)} people in {len(IC_GROUPS)} groups, 4 permission sets, assigned here and in {PROD_ACCOUNT};")
    print("bucket s3://acme-iam-audit. Starting the function (cargo lambda watch)…", flush=True)
    env = {"REPORT_BUCKET": "acme-iam-audit", "REPORT_PREFIX": "iam-export", "INCLUDE_ROLES": "false"}
    ok_all = True
    with lambda_function("iam-export", endpoint, env) as invoke:
        for event_file in ("iam-export-scheduled.json", "iam-export-manual.json"):
            ok, result = invoke(event_file)
            if not ok:
                ok_all = False
                continue
            print("  " + json.dumps(result, indent=2).replace("\n", "\n  "))
        if not ok_all:
            return False
        users_key = result["keys"][0]
        rest = [key for key in result["keys"] if "/iam-roles-" in key]
        rows = read_csv(aws["s3"], result["bucket"], users_key)
        print(f"\ns3://{result['bucket']}/{users_key}: {len(rows)} rows, {len(rows[0])} columns. First rows:")
        table(rows, ["user_name", "path", "groups", "console_password_enabled", "mfa_active", "access_key_1_active",
                     "access_key_1_last_used_date", "no_mfa_with_console"], limit=8)
        flagged = [r for r in rows if r["no_mfa_with_console"] == "true"]
        findings = result["findings"]
        print("\nFindings: " + ", ".join(f"{name} = {count}" for name, count in findings.items()))
        print("Console users without MFA: " + ", ".join(r["user_name"] for r in flagged))
        print(f"\nWho can act as an administrator, and the verdict on each user (with the roles and Identity Center below: {findings['admins']} "
              f"administrators, {findings['admins_without_mfa']} signing in without MFA; {findings['to_remove']} to remove, "
              f"{findings['to_review']} to review):")
        table(rows, ["user_name", "admin", "admin_via", "verdict", "verdict_reason"])
        print(f"Cost: {result['api_calls']} AWS API calls for {result['user_count']} users and {result['role_count']} roles.")
        print("(The emulator dates every user, key and password 'now' and fixes the report's generation time,\n"
              " so the age-based findings stay at zero here; the unit tests cover them with fixed dates.)")
        if rest:
            roles = read_csv(aws["s3"], result["bucket"], rest[0])
            print(f"\ns3://{result['bucket']}/{rest[0]} (the manual invoke asked for roles):")
            table(roles, ["role_name", "path", "inline_policies", "trust_principals", "admin", "verdict", "verdict_reason"])
        center = result.get("identity_center")
        if not center:
            print("\nNo Identity Center files: the emulator's account should hold an instance.")
            return False
        key_of = {kind: next(k for k in result["keys"] if f"/identity-center-{kind}-" in k) for kind in ("users", "access", "permission-sets")}
        print(f"\nIdentity Center ({center['users']} users, {center['permission_sets']} permission sets, {center['access_rows']} access rows, "
              f"assignments read {center['assignments_read']}): s3://{result['bucket']}/{key_of['users']}")
        table(read_csv(aws["s3"], result["bucket"], key_of["users"]),
              ["user_name", "groups", "accounts", "permission_sets", "admin", "verdict", "verdict_reason"])
        print(f"\nWho reaches which account, and how: s3://{result['bucket']}/{key_of['access']}")
        table(read_csv(aws["s3"], result["bucket"], key_of["access"]),
              ["user_name", "account_id", "permission_set", "assigned_via", "session_duration", "admin", "admin_via"])
        print(f"\nPermission sets: s3://{result['bucket']}/{key_of['permission-sets']}")
        table(read_csv(aws["s3"], result["bucket"], key_of["permission-sets"]),
              ["permission_set", "managed_policies", "customer_managed_policies", "accounts", "principals", "admin", "verdict", "verdict_reason"])
        print(f"\nCopies of the CSV files are in {OUTPUT.relative_to(ROOT)}/; the function's log is {OUTPUT.relative_to(ROOT)}/iam-export.log")
    return ok_all


# ---------------------------------------------------------------- EKS scheduler

EKS_ROLE = f"arn:aws:iam::{ACCOUNT}:role/eks-cluster"
EKS_CLUSTERS = [
    # name, tags, managed nodegroups (name, min, desired, max)
    ("staging-data", {"auto-stop": "true", "auto-start": "true", "team": "data"},
     [("system", 2, 2, 4), ("kafka", 3, 3, 6)]),
    ("staging-api", {"auto-stop": "true", "auto-start": "true", "dependency": "staging-data"},
     [("web", 2, 4, 8)]),
    ("staging-web", {"auto-stop": "true", "auto-start": "true", "dependency": "staging-api"},
     [("frontend", 1, 2, 3)]),
    ("qa", {"auto-stop": "true", "auto-start": "true", "dependency": "staging-data"},
     [("default", 1, 1, 3), ("spot", 0, 6, 20)]),
    ("dev-sandbox", {"eks-scheduler/schedule": "off=mon-fri@19:00 on=mon-fri@07:00 tz=Europe/Paris skip=2026-12-24+2026-12-25"},
     [("general", 1, 2, 5)]),
    ("ml-serverless", {"auto-stop": "true", "auto-start": "true"}, []),
    ("production", {"team": "payments"}, [("main", 3, 6, 12)]),
    # Tagged non-production, yet no schedule covers it: the coverage report prices one for it.
    ("analytics-dev", {"environment": "dev", "team": "data"}, [("analytics", 1, 3, 6)]),
    # All three kinds: Karpenter (its controller on the managed nodegroup), a self-managed group, NodePools.
    ("staging-ml", {"auto-stop": "true", "auto-start": "true", "eks-scheduler/karpenter": "true",
                    "dependency": "staging-data"}, [("karpenter", 2, 2, 3)]),
]
# staging-ml's Karpenter NodePools (their spec.limits) and NodeClaims (claim: pool), served by the
# tests' Kubernetes API stand-in (cargo run --example kube-api): the emulator has no cluster API.
EKS_NODEPOOLS = {"default": {"cpu": "1000", "memory": "1000Gi"}, "gpu": {"nvidia.com/gpu": "8"}, "batch": {}}
# Launched claims carry Karpenter's labels: their instance type and capacity type (for the savings ledger).
EKS_NODECLAIMS = {
    "default-7xk2p": {"nodepool": "default", "instance_type": "m6g.large", "capacity_type": "spot"},
    "default-9qm4t": {"nodepool": "default", "instance_type": "m6g.large", "capacity_type": "spot"},
    "gpu-2hd8c": {"nodepool": "gpu", "instance_type": "g5.xlarge", "capacity_type": "on-demand"},
    "batch-5vn6w": "batch",  # not launched yet: no instance type, so no price
}
# The instance types each managed nodegroup runs (EKS launches the first) and how it buys them; the
# emulator's default otherwise (t3.medium, on-demand). The self-managed groups launch m6i.large.
EKS_NODEGROUP_TYPES = {
    "kafka": (["r6i.xlarge"], "ON_DEMAND"), "system": (["m6i.large"], "ON_DEMAND"),
    "web": (["c6i.large", "c6a.large"], "ON_DEMAND"), "spot": (["m5.large", "m5a.large"], "SPOT"),
    "frontend": (["c6i.large"], "ON_DEMAND"), "karpenter": (["m6i.large"], "ON_DEMAND"),
    "analytics": (["m6i.large"], "ON_DEMAND"),
}
# The demo's Price List API answers with these (USD an hour, about eu-west-1's Linux on-demand list
# prices), in the recorded shape of a real answer (tests/testdata/pricing); the emulator has none.
# r6i.xlarge is priced by PRICE_OVERRIDES instead, as a negotiated rate would be.
EKS_LIST_PRICES = {"m6i.large": "0.1070000000", "c6i.large": "0.0960000000", "t3.medium": "0.0456000000",
                   "g5.xlarge": "1.1230000000", "r6i.xlarge": "0.2820000000"}
EKS_PRICE_OVERRIDES = {"r6i.xlarge": 0.21}
EKS_LEDGER_BUCKET = "demo-eks-savings"
PRICE_ANSWER = ROOT / "tests" / "testdata" / "pricing" / "get-products-m5.large.json"
# Self-managed node groups (Auto Scaling groups) beside the managed nodegroups: cluster, name, tags, min, desired, max.
EKS_GROUPS = [
    ("staging-data", "staging-data-kafka-brokers", {"kubernetes.io/cluster/staging-data": "owned", "eks-scheduler/cluster": "staging-data"},
     1, 3, 6),
    # Scaled from zero by the Cluster Autoscaler: at 0/0/4 by design, left alone.
    ("qa", "qa-gpu", {"eks:cluster-name": "qa", "k8s.io/cluster-autoscaler/enabled": "true"}, 0, 0, 4),
    ("production", "production-legacy", {"kubernetes.io/cluster/production": "owned"}, 2, 2, 4),
    ("staging-ml", "staging-ml-inference", {"eks:cluster-name": "staging-ml"}, 1, 2, 4),
]


def seed_eks(eks) -> None:
    for name, tags, nodegroups in EKS_CLUSTERS:
        # A public API endpoint, EKS's default (the emulator reports only what it is given).
        eks.create_cluster(name=name, roleArn=EKS_ROLE, tags=tags,
                           resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"], "endpointPublicAccess": True})
        for nodegroup, low, desired, high in nodegroups:
            types, capacity = EKS_NODEGROUP_TYPES.get(nodegroup, (["t3.medium"], "ON_DEMAND"))
            eks.create_nodegroup(clusterName=name, nodegroupName=nodegroup, nodeRole=EKS_ROLE, subnets=["subnet-0a1b2c3d"],
                                 scalingConfig={"minSize": low, "desiredSize": desired, "maxSize": high},
                                 instanceTypes=types, capacityType=capacity)
        if not nodegroups:
            eks.create_fargate_profile(clusterName=name, fargateProfileName="inference", podExecutionRoleArn=EKS_ROLE,
                                       selectors=[{"namespace": "inference"}])


def seed_groups(autoscaling) -> None:
    """The self-managed groups; the Kafka brokers' group with a warm pool, an instance protected from
    scale in and AZRebalance suspended by its operator, all of which a stop must handle."""
    autoscaling.create_launch_configuration(LaunchConfigurationName="eks-nodes", ImageId="ami-12c6146b", InstanceType="m6i.large")
    for _, name, tags, low, desired, high in EKS_GROUPS:
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name, LaunchConfigurationName="eks-nodes", AvailabilityZones=[f"{REGION}a"],
            MinSize=low, DesiredCapacity=desired, MaxSize=high,
            Tags=[{"Key": k, "Value": v, "PropagateAtLaunch": True, "ResourceId": name, "ResourceType": "auto-scaling-group"}
                  for k, v in tags.items()])
    brokers = EKS_GROUPS[0][1]
    autoscaling.put_warm_pool(AutoScalingGroupName=brokers, MinSize=1, PoolState="Stopped")
    instance = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[brokers])["AutoScalingGroups"][0]["Instances"][0]
    autoscaling.set_instance_protection(AutoScalingGroupName=brokers, InstanceIds=[instance["InstanceId"]], ProtectedFromScaleIn=True)
    autoscaling.suspend_processes(AutoScalingGroupName=brokers, ScalingProcesses=["AZRebalance"])


@contextmanager
def kube_api(cluster: str, secret: str):
    """The Kubernetes API stand-in for one cluster, seeded with EKS_NODEPOOLS and EKS_NODECLAIMS; yields
    its URL and a callable reading its pools' limits (and saved limits) and the claims left."""
    subprocess.run(["cargo", "build", "--quiet", "--locked", "-p", "integration-tests", "--example", "kube-api"],
                   cwd=ROOT, check=True)
    env = {**os.environ, "CLUSTER": cluster, "SECRET": secret, "NODEPOOLS": json.dumps(EKS_NODEPOOLS),
           "NODECLAIMS": json.dumps(EKS_NODECLAIMS)}
    server = subprocess.Popen(["cargo", "run", "--quiet", "--locked", "-p", "integration-tests", "--example", "kube-api"],
                              cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().strip()
        if not url:
            raise SystemExit("the Kubernetes API stand-in did not start")

        def state() -> dict:
            server.stdin.write("state\n")
            server.stdin.flush()
            return json.loads(server.stdout.readline())

        yield url, state
    finally:
        server.stdin.close()
        server.wait(timeout=10)


def claim_pool(claim: str | dict) -> str:
    return claim if isinstance(claim, str) else claim["nodepool"]


@contextmanager
def price_list_api():
    """The Price List API (pricing:GetProducts) on loopback, answering with EKS_LIST_PRICES in the
    recorded shape of a real answer; the emulator has none."""
    recorded = json.loads(PRICE_ANSWER.read_text())
    product = json.loads(recorded["PriceList"][0])
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the standard library's name)
            request = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
            field = {f["Field"]: f["Value"] for f in request.get("Filters", [])}
            instance_type = field.get("instanceType", "")
            asked.append(instance_type)
            products = []
            if instance_type in EKS_LIST_PRICES:
                priced = json.loads(json.dumps(product))
                priced["product"]["attributes"].update(instanceType=instance_type, regionCode=field.get("regionCode"))
                for offer in priced["terms"]["OnDemand"].values():
                    for dimension in offer["priceDimensions"].values():
                        dimension["pricePerUnit"]["USD"] = EKS_LIST_PRICES[instance_type]
                products.append(json.dumps(priced))
            body = json.dumps({"FormatVersion": "aws_v1", "PriceList": products}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/x-amz-json-1.1")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with serving(Handler) as url:
        yield url, asked


def age_stop_records(s3, hours: int) -> int:
    """Moves every stop record's time `hours` back, as if the night had passed between the stop and
    the start (which run seconds apart in the demo). Returns how many it moved."""
    moved = 0
    listed = s3.list_objects_v2(Bucket=EKS_LEDGER_BUCKET, Prefix="eks-scheduler/_state/stopped/")
    for item in listed.get("Contents", []):
        record = json.loads(s3.get_object(Bucket=EKS_LEDGER_BUCKET, Key=item["Key"])["Body"].read())
        stopped = dt.datetime.fromisoformat(record["stopped_at"].replace("Z", "+00:00")) - dt.timedelta(hours=hours)
        record["stopped_at"] = stopped.strftime("%Y-%m-%dT%H:%M:%SZ")
        s3.put_object(Bucket=EKS_LEDGER_BUCKET, Key=item["Key"], Body=json.dumps(record).encode())
        moved += 1
    return moved


def print_savings(result: dict) -> None:
    for cluster in result["clusters"]:
        if cluster.get("savings"):
            print(f"  {cluster['name']}: {cluster['savings']['summary']}")


def pool_text(limits: dict | None, nodes: int) -> str:
    text = " ".join(f"{k}={v}" for k, v in sorted((limits or {}).items())) or "no limits"
    return f"{text}, {nodes} node{'' if nodes == 1 else 's'}"


def eks_sizes(eks, autoscaling, kube_state=None) -> dict[tuple[str, str, str], str]:
    """Every piece of capacity's min/desired/max (and a group's instances, warm pool and suspended processes),
    and each NodePool's limits and nodes, as the stand-in holds them."""
    sizes = {}
    if kube_state:
        state = kube_state()
        for name, pool in state["nodepools"].items():
            nodes = sum(1 for claim in state["nodeclaims"] if claim_pool(EKS_NODECLAIMS[claim]) == name)
            saved = f" (saved {pool['saved']})" if pool["saved"] else ""
            sizes[("staging-ml", "nodepool", name)] = pool_text(pool["limits"], nodes) + saved
    for name, _, nodegroups in EKS_CLUSTERS:
        for nodegroup, *_ in nodegroups:
            scaling = eks.describe_nodegroup(clusterName=name, nodegroupName=nodegroup)["nodegroup"]["scalingConfig"]
            sizes[(name, "managed", nodegroup)] = f"{scaling['minSize']}/{scaling['desiredSize']}/{scaling['maxSize']}"
    cluster_of = {name: cluster for cluster, name, *_ in EKS_GROUPS}
    for group in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=list(cluster_of))["AutoScalingGroups"]:
        cluster = cluster_of[group["AutoScalingGroupName"]]
        pool = group.get("WarmPoolConfiguration")
        extra = [f"{len(group['Instances'])} instances"]
        if pool:
            extra.append(f"warm pool min {pool.get('MinSize', 0)}")
        extra.append("suspended: " + (" ".join(sorted(p["ProcessName"] for p in group["SuspendedProcesses"])) or "none"))
        sizes[(cluster, "self-managed", group["AutoScalingGroupName"])] = (
            f"{group['MinSize']}/{group['DesiredCapacity']}/{group['MaxSize']} ({', '.join(extra)})")
    return sizes


def report_rows(report: dict) -> list[dict]:
    rows = []
    for cluster in report["clusters"]:
        wave = "" if cluster["wave"] is None else cluster["wave"]
        if not cluster["nodegroups"]:
            rows.append({"cluster": cluster["name"], "action": cluster["action"] or "", "wave": wave,
                         "status": cluster["status"], "reason": cluster["reason"]})
        for nodegroup in cluster["nodegroups"]:
            rows.append({"cluster": cluster["name"], "action": cluster["action"] or "", "wave": wave,
                         "kind": nodegroup["kind"],
                         "nodegroup": nodegroup["name"], "before": nodegroup["before"], "after": nodegroup["after"],
                         "status": nodegroup["status"], "reason": nodegroup["reason"] or cluster["reason"]})
    return rows


def demo_eks_scheduler(endpoint: str) -> bool:
    heading("eks-scheduler: stop and start tagged EKS clusters, restoring exact sizes, in dependency order")
    eks, autoscaling = clients(endpoint)["eks"], clients(endpoint)["autoscaling"]
    seed_eks(eks)
    seed_groups(autoscaling)
    print("Seeded 9 clusters: staging-web needs staging-api, which needs staging-data (so do qa and staging-ml);")
    print("dev-sandbox follows its own schedule tag; ml-serverless is Fargate-only; production is not opted in, nor is")
    print("analytics-dev, though it is tagged environment=dev.")
    print("staging-data also runs a self-managed group of Kafka brokers (a warm pool, a protected instance, AZRebalance")
    print("suspended by its operator), stopped before its managed nodegroups; qa's GPU group scales from zero.")
    print("staging-ml runs all three kinds: Karpenter NodePools (default, gpu, batch; 4 nodes) served by a stand-in")
    print("of its Kubernetes API (cargo run --example kube-api), a self-managed group, and the managed nodegroup")
    print("hosting the Karpenter controller: the pools stop first and start last.")
    print(f"Each stop and start is priced into a savings ledger in s3://{EKS_LEDGER_BUCKET}: list prices from a stand-in")
    print("of the Price List API, spot prices from the emulator's DescribeSpotPriceHistory, and PRICE_OVERRIDES.")
    s3 = clients(endpoint)["s3"]
    s3.create_bucket(Bucket=EKS_LEDGER_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    with kube_api("staging-ml", "demo") as (kube_url, kube_state), price_list_api() as (pricing_url, _):
        return eks_runs(eks, autoscaling, endpoint, kube_url, kube_state, pricing_url) and eks_ledger(s3)


def eks_ledger(s3) -> bool:
    """Prints the month's ledger and its summary, as the runs wrote them; true if they hold a priced saving."""
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=EKS_LEDGER_BUCKET, Prefix="eks-scheduler/ledger/")
            .get("Contents", [])]
    ledgers = [key for key in keys if not key.endswith("-summary.csv")]
    summaries = [key for key in keys if key.endswith("-summary.csv")]
    if not ledgers or not summaries:
        print(f"THE SAVINGS LEDGER WAS NOT WRITTEN: {keys}")
        return False
    for key in ledgers + summaries:
        (OUTPUT / f"eks-{key.rsplit('/', 1)[1]}").write_bytes(s3.get_object(Bucket=EKS_LEDGER_BUCKET, Key=key)["Body"].read())
    lines = read_csv(s3, EKS_LEDGER_BUCKET, ledgers[0])
    print(f"\nThe savings ledger, s3://{EKS_LEDGER_BUCKET}/{ledgers[0]} (one line per stop and per start):")
    table(lines, ["date", "cluster", "action", "capacity", "usd_an_hour", "hours_off", "instance_hours_off", "usd_saved"])
    summary = read_csv(s3, EKS_LEDGER_BUCKET, summaries[0])
    print(f"\nIts monthly summary, s3://{EKS_LEDGER_BUCKET}/{summaries[0]} (both files are in {OUTPUT.relative_to(ROOT)}/):")
    table(summary, ["account", "region", "cluster", "stops", "starts", "hours_off", "instance_hours_off", "usd_saved",
                    "starts_with_unknown_prices"])
    priced = any(line["usd_saved"] for line in lines if line["action"] == "start")
    if not priced:
        print("NO START WAS PRICED")
    return priced


def prepare_notice_and_snooze(eks) -> None:
    """Before the auto run: qa gets a schedule whose stop is 20 minutes away (its start two hours ago, which the
    demo's start already took), so the run gives notice of it; dev-sandbox, whose Friday stop is due, is snoozed."""
    now = dt.datetime.now(dt.timezone.utc)
    off, on = (now + dt.timedelta(minutes=20)).strftime("%H:%M"), (now - dt.timedelta(hours=2)).strftime("%H:%M")
    arns = {name: eks.describe_cluster(name=name)["cluster"]["arn"] for name in ("qa", "dev-sandbox")}
    eks.tag_resource(resourceArn=arns["qa"], tags={"eks-scheduler/schedule": f"off=daily@{off} on=daily@{on} tz=UTC"})
    eks.tag_resource(resourceArn=arns["dev-sandbox"], tags={"eks-scheduler/snooze-until": "2h"})
    print(f"\nBefore the auto run: qa now follows off=daily@{off} on=daily@{on} tz=UTC (its stop 20 minutes away),")
    print("and dev-sandbox's team snoozed its stop: eks-scheduler/snooze-until=2h.")


def show_notice_and_snooze(result: dict) -> bool:
    """Prints the auto run's notices and the stops it skipped for a snooze; true if both are there."""
    notices = result.get("notices", [])
    for notice in notices:
        print(f"  notice: {notice['cluster']} stops at {notice['stop_at_local']}, in {notice['minutes_left']} minutes;")
        print(f"    to postpone it, {notice['postpone']}")
    snoozed = [c for c in result["clusters"] if c.get("snoozed")]
    for cluster in snoozed:
        print(f"  snoozed: {cluster['name']}: {cluster['reason']}")
    noticed = any(n["cluster"] == "qa" for n in notices)
    slept_in = any(c["name"] == "dev-sandbox" for c in snoozed)
    if not (noticed and slept_in):
        print(f"THE AUTO RUN {'GAVE NO NOTICE FOR qa' if not noticed else 'DID NOT SNOOZE dev-sandbox'}")
    return noticed and slept_in


def show_coverage(s3, result: dict) -> bool:
    """Prints the coverage report and the calendar's first events, saving both; true if the report found
    analytics-dev unscheduled and priced what a schedule would save, and the calendar holds dev-sandbox's stops."""
    print(f"  {result['summary']}")
    print(f"  ({result['label']}; the suggested schedule: {result['suggested_schedule']})")
    table(result["clusters"], ["cluster", "coverage", "schedule", "non_production", "capacity", "usd_an_hour",
                               "hours_off_last_week", "suggested_usd_a_month"])
    saved = []
    for location in (result["csv"], result["calendar"]):
        bucket, key = location.removeprefix("s3://").split("/", 1)
        # eks-scheduler/coverage/<date>.csv and eks-scheduler/calendar.ics: eks-coverage-<date>.csv, eks-calendar.ics
        path = OUTPUT / f"eks-{key.split('/', 1)[1].replace('/', '-')}"
        path.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        saved.append(path)
    calendar = saved[1].read_bytes().decode()  # not read_text: it would turn the file's CRLF line ends into LF
    events = [block for block in calendar.split("BEGIN:VEVENT")[1:]]
    print(f"\n  The calendar {result['calendar']} ({len(events)} events over 14 days; a team subscribes to it), first three:")
    for block in events[:3]:
        fields = dict(line.split(":", 1) for line in block.replace("\r\n ", "").split("\r\n") if ":" in line)
        start = fields.get("DTSTART") or fields.get("DTSTART;VALUE=DATE", "")
        print(f"    {start}  {fields.get('SUMMARY', '')}")
    print(f"  Both files are in {OUTPUT.relative_to(ROOT)}/: {', '.join(p.name for p in saved)}")
    analytics = next((c for c in result["clusters"] if c["cluster"] == "analytics-dev"), {})
    priced = analytics.get("coverage") == "unscheduled" and bool(analytics.get("suggested_usd_a_month"))
    planned = "Stop: dev-sandbox" in calendar
    if not (priced and planned):
        print(f"THE COVERAGE REPORT {'DID NOT PRICE A SCHEDULE FOR analytics-dev' if not priced else 'CALENDAR HAS NO STOP'}")
    return priced and planned


def eks_runs(eks, autoscaling, endpoint: str, kube_url: str, kube_state, pricing_url: str) -> bool:
    sizes = {"before": eks_sizes(eks, autoscaling, kube_state)}
    ok_all = True
    env = {"DEFAULT_TIMEZONE": "UTC", "KUBERNETES_ENDPOINT_URLS": f"staging-ml={kube_url}",
           "REPORT_BUCKET": EKS_LEDGER_BUCKET, "PRICING_ENDPOINT_URL": pricing_url,
           "PRICE_OVERRIDES": json.dumps(EKS_PRICE_OVERRIDES)}
    with lambda_function("eks-scheduler", endpoint, env) as invoke:
        for event_file, label in (("eks-dry-run.json", None), ("eks-stop.json", "after stop"),
                                  ("eks-start.json", "after start"), ("eks-auto.json", None), ("eks-report.json", None)):
            if event_file == "eks-auto.json":
                prepare_notice_and_snooze(eks)
            ok, result = invoke(event_file)
            if not ok:
                ok_all = False
                continue
            if event_file == "eks-auto.json" and not show_notice_and_snooze(result):
                ok_all = False
            if event_file == "eks-report.json":
                ok_all = show_coverage(clients(endpoint)["s3"], result) and ok_all
                continue
            if label:
                print("  what each cluster's action saves (an estimate: list price, excludes EBS and data transfer):")
                print_savings(result)
            if label == "after stop":
                moved = age_stop_records(clients(endpoint)["s3"], 12)
                print(f"  (the demo now moves the {moved} stop records 12 hours back, as if the night had passed: the")
                print("  stop and the start run seconds apart here, and a start counts the hours since its stop)")
            waves = {action: " then ".join("[" + ", ".join(w) + "]" for w in ws) for action, ws in result["waves"].items()}
            print(f"  action={result['action']} dry_run={result['dry_run']} api_calls={result['api_calls']} "
                  f"totals={json.dumps(result['totals'])}")
            for action, order in waves.items():
                direction = "stopped in reverse" if action == "stop" else "started in this order"
                print(f"  {action} waves ({direction}): {order}")
            table(report_rows(result), ["cluster", "action", "wave", "kind", "nodegroup", "before", "after", "status", "reason"])
            if label:
                sizes[label] = eks_sizes(eks, autoscaling, kube_state)
    if not ok_all:
        return False
    print("\nSizes (min/desired/max) of every nodegroup and self-managed group, read back from the emulator, and each")
    print("NodePool's limits and nodes, read back from the stand-in (nodes come back as pending pods ask Karpenter for")
    print("them, and the stand-in runs no Karpenter: a pool is restored when its limits are):")

    def restored_piece(kind: str, before: str, after: str) -> bool:
        return before.split(", ")[0] == after.split(", ")[0] if kind == "nodepool" else before == after

    rows = [{"cluster": c, "kind": k, "nodegroup": n, "before": sizes["before"][(c, k, n)],
             "after stop": sizes["after stop"][(c, k, n)], "after start": sizes["after start"][(c, k, n)],
             "restored": "yes" if restored_piece(k, sizes["before"][(c, k, n)], sizes["after start"][(c, k, n)]) else "NO"}
            for (c, k, n) in sizes["before"]]
    table(rows, ["cluster", "kind", "nodegroup", "before", "after stop", "after start", "restored"])
    restored = all(r["restored"] == "yes" for r in rows)
    brokers = ("staging-data", "self-managed", EKS_GROUPS[0][1])
    stopped_brokers = sizes["after stop"][brokers].startswith("0/0/0 (0 instances, warm pool min 0")
    print("Every nodegroup and group is back at its exact size." if restored else "SOME SIZES WERE NOT RESTORED")
    if not stopped_brokers:
        print(f"THE BROKERS' GROUP DID NOT STOP TO ZERO: {sizes['after stop'][brokers]}")
    pools_stopped = all(value.startswith(("cpu=0 ", "cpu=0,")) and ", 0 nodes" in value
                        for (c, k, n), value in sizes["after stop"].items() if k == "nodepool")
    if not pools_stopped:
        print("A NODEPOOL DID NOT STOP: its limits are not zero or its nodes are still there")
    restored = restored and stopped_brokers and pools_stopped
    print(f"The function's log is {OUTPUT.relative_to(ROOT)}/eks-scheduler.log")
    return restored


# ---------------------------------------------------------------- cost report

SERVICES = [
    ("Amazon Elastic Compute Cloud - Compute", 412.0), ("Amazon Relational Database Service", 188.0),
    ("Amazon Simple Storage Service", 96.0), ("Amazon Elastic Kubernetes Service", 72.0),
    ("EC2 - Other", 64.0), ("Amazon CloudFront", 41.0), ("Amazon OpenSearch Service", 38.0),
    ("AWS Lambda", 22.0), ("Amazon DynamoDB", 19.5), ("Amazon ElastiCache", 18.0),
    ("Amazon Virtual Private Cloud", 16.0), ("Elastic Load Balancing", 14.5), ("Amazon CloudWatch", 12.0),
    ("Amazon Managed Streaming for Apache Kafka", 11.0), ("AWS Key Management Service", 6.5),
    ("Amazon Route 53", 4.2), ("Amazon Simple Queue Service", 3.8), ("Amazon Simple Notification Service", 2.9),
    ("AWS Secrets Manager", 2.6), ("Amazon EC2 Container Registry (ECR)", 2.4), ("AWS Glue", 2.2),
    ("Amazon Athena", 1.9), ("Amazon Kinesis", 1.7), ("AWS Config", 1.5), ("AWS CloudTrail", 1.3),
    ("Amazon GuardDuty", 1.2), ("AWS Step Functions", 0.9), ("Amazon API Gateway", 0.8),
    ("AWS Backup", 0.7), ("Amazon Simple Email Service", 0.4), ("AWS X-Ray", 0.3), ("Amazon Cognito", 0.2),
    ("AWS Systems Manager", 0.1), ("Tax", 0.0),
]


def cost_results(report_day: dt.date) -> dict:
    """A realistic month: weekday/weekend variation, noise, a spike on the report day, the last two days estimated."""
    first_of_month = report_day.replace(day=1)
    previous = (first_of_month - dt.timedelta(days=1)).replace(day=1)
    start = min(previous, report_day - dt.timedelta(days=29))
    rng = random.Random(42)
    results = []
    day = start
    while day <= report_day:
        weekend = 0.72 if day.weekday() >= 5 else 1.0
        groups = []
        for service, base in SERVICES:
            if base == 0.0 and day.day != 1:
                continue  # tax appears on the first of the month only
            amount = (base or 57.0) * weekend * rng.uniform(0.9, 1.1)
            if day == report_day and service in ("Amazon Elastic Compute Cloud - Compute", "Amazon OpenSearch Service"):
                amount *= 2.6  # someone left a fleet running
            groups.append({"Keys": [service], "Metrics": {"UnblendedCost": {"Amount": f"{amount:.10f}", "Unit": "USD"}}})
        results.append({"TimePeriod": {"Start": day.isoformat(), "End": (day + dt.timedelta(days=1)).isoformat()},
                        "Total": {}, "Groups": groups, "Estimated": day >= report_day - dt.timedelta(days=1)})
        day += dt.timedelta(days=1)
    return {"ResultsByTime": results, "DimensionValueAttributes": [],
            "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}]}


def budget_figures(report_day: dt.date) -> tuple[float, float, float]:
    """A budget the month is forecast to overrun by about 6%: (limit, spent, forecast), from the seeded days."""
    results = cost_results(report_day)["ResultsByTime"]
    spent = sum(float(group["Metrics"]["UnblendedCost"]["Amount"]) for result in results
                if result["TimePeriod"]["Start"] >= report_day.replace(day=1).isoformat() for group in result["Groups"])
    days_in_month = ((report_day.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)).day
    forecast = spent / report_day.day * days_in_month
    return round(forecast / 1.06, -2), spent, forecast


def write_email(raw: str) -> bool:
    """The email as its reader gets it: demo-output/cost-report.eml, and the HTML beside its chart
    (the cid: reference pointed at cost-report-chart.png) for a browser or `make email-preview`."""
    import email
    import email.policy
    (OUTPUT / "cost-report.eml").write_text(raw)
    message = email.message_from_string(raw, policy=email.policy.default)
    html = message.get_body(preferencelist=("html",)).get_content()
    charts = [part for part in message.walk() if part.get("Content-ID")]
    for part in charts:
        cid = part["Content-ID"].strip("<>")
        (OUTPUT / "cost-report-chart.png").write_bytes(part.get_payload(decode=True))
        html = html.replace(f"cid:{cid}", "cost-report-chart.png")
    html_path = OUTPUT / "cost-report-email.html"
    html_path.write_text(html)
    layout = " > ".join(part.get_content_type() for part in message.walk())
    print(f"\nEmail '{message['Subject']}' sent to {message['To']}: {layout}.")
    print(f"Its HTML is in {html_path.relative_to(ROOT)} (its chart in cost-report-chart.png): open it in a browser,")
    print("or run `make email-preview` for a PNG; the message itself is demo-output/cost-report.eml.")
    return len(charts) == 1 and "cost-report-chart.png" in html


@contextmanager
def slack_listener():
    """A local HTTP server standing in for Slack's incoming webhook; collects the payloads."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the standard library's name)
            length = int(self.headers.get("content-length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    with serving(Handler) as url:
        yield f"{url}/services/T000/B000/demo", received


def demo_cost_report(endpoint: str) -> bool:
    heading("cost-report: yesterday's AWS costs to a CSV in S3, an HTML email and a Slack message")
    aws = clients(endpoint)
    report_day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    request = urllib.request.Request(f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
                                     data=json.dumps({"results": [cost_results(report_day)]}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(request).close()
    aws["s3"].create_bucket(Bucket="acme-finance-reports", CreateBucketConfiguration={"LocationConstraint": REGION})
    aws["sesv2"].create_email_identity(EmailIdentity="costs@acme.example")
    limit, actual, forecast = budget_figures(report_day)
    aws["budgets"].create_budget(AccountId=ACCOUNT, Budget={
        "BudgetName": "Acme monthly", "BudgetType": "COST", "TimeUnit": "MONTHLY",
        "BudgetLimit": {"Amount": f"{limit:.2f}", "Unit": "USD"},
        # What AWS Budgets would have calculated: the emulator calculates nothing.
        "CalculatedSpend": {"ActualSpend": {"Amount": f"{actual:.2f}", "Unit": "USD"},
                            "ForecastedSpend": {"Amount": f"{forecast:.2f}", "Unit": "USD"}}})
    print(f"Queued {len(SERVICES)} services of daily costs in the emulator's Cost Explorer, with a spike on {report_day}")
    print("and its last two days estimated; verified costs@acme.example in SES; a local listener stands in for Slack,")
    print("its webhook URL kept in Secrets Manager (the function reads it once, at cold start); and a monthly budget")
    print(f"'Acme monthly' of {limit:,.0f} USD in AWS Budgets, {actual:,.2f} spent and forecast at {forecast:,.2f}.")
    ok = True
    with slack_listener() as (webhook, payloads):
        secret_arn = aws["secretsmanager"].create_secret(Name="acme/cost-report/slack-webhook",
                                           SecretString=json.dumps({"url": webhook}))["ARN"]
        env = {"REPORT_BUCKET": "acme-finance-reports", "SES_FROM": "costs@acme.example",
               "SES_TO": "finops@acme.example,cto@acme.example", "SLACK_WEBHOOK_SECRET_ARN": secret_arn,
               "ALERT_CHANGE_PCT": "25", "TOP_N": "8"}
        with lambda_function("cost-report", endpoint, env) as invoke:
            ok, result = invoke("cost-report-scheduled.json")
            if not ok:
                return False
            # What Lambda's retry of a failed run (or a second invoke for the day) does.
            ok, again = invoke("cost-report-scheduled.json")
            if not ok:
                return False
        def money(amount: str) -> str:
            return f"{float(amount):,.2f} {result['unit']}"

        for line in result["top"]:
            line["amount"] = money(line["amount"])
        print(f"  report day {result['report_day']}: {money(result['total'])}"
              f"{' (estimated)' if result['estimated'] else ''}, {result['change_from_day_before']} from the day before")
        print(f"  month to date {money(result['month_to_date'])} "
              f"({result['month_change_from_same_days_last_month']} against the same days last month); {result['forecast_note']}")
        if result.get("budget"):
            budget = result["budget"]
            print(f"  budget {budget['name']}: {money(budget['actual'])} of {money(budget['limit'])}, forecast "
                  f"{money(budget['forecast'])} ({budget['forecast_from']}), crosses it on {budget['crosses_on'] or '-'}")
        else:
            ok = False
            print("  no budget was compared")
        for alert in result["alerts"]:
            print(f"  ALERT: {alert}")
        print(f"  Cost Explorer requests: {result['cost_explorer_requests']} (costs + forecast; the emulator has no forecast)")
        for warning in result["warnings"]:
            print(f"  warning: {warning}")
        table([{"channel": name, **status} for name, status in result["channels"].items()], ["channel", "status", "detail"])
        statuses = ", ".join(f"{name} {status['status']}" for name, status in again["channels"].items())
        print(f"\nThe same day run again (as Lambda's retry of a failed run would): figures from {again['figures_from']}, "
              f"{again['cost_explorer_requests']} Cost Explorer requests; {statuses}.")
        if again["cost_explorer_requests"] != 0 or any(s["status"] == "sent" for s in again["channels"].values()):
            ok = False
        print("\nTop services on the report day:")
        table(result["top"], ["name", "amount", "change"])
        body = aws["s3"].get_object(Bucket="acme-finance-reports", Key=result["csv_key"])["Body"].read().decode()
        rows = list(csv.DictReader(io.StringIO(body)))
        (OUTPUT / "cost-by-service.csv").write_text(body)
        print(f"\ns3://acme-finance-reports/{result['csv_key']}: {len(rows)} rows (every day x service). First rows:")
        table(rows, ["date", "service", "amount", "unit", "estimated"], limit=5)
        if payloads:
            (OUTPUT / "cost-report-slack.json").write_text(json.dumps(payloads[-1], indent=2, ensure_ascii=False))
            blocks = payloads[-1]["blocks"]
            print(f"\nSlack received {len(payloads)} message(s), {len(blocks)} blocks; the texts:")
            for block in blocks:
                texts = [block.get("text", {}).get("text")] + [f.get("text") for f in block.get("fields", [])] + \
                        [e.get("text") for e in block.get("elements", [])]
                for text in filter(None, texts):
                    print("  | " + text.replace("\n", "\n  | "))
        else:
            ok = False
            print("Slack received nothing")
    from moto.ses.models import ses_backends
    sent = [m for m in ses_backends[ACCOUNT][REGION].sent_messages if hasattr(m, "raw_data")]
    if sent:
        ok = write_email(sent[-1].raw_data) and ok
    else:
        ok = False
        print("No email was sent")
    return ok


# ---------------------------------------------------------------- thumbnailer

# Uploads: (key, photo file name from Debian's wallpaper packages, or None for bytes made here).
UPLOADS = [
    ("uploads/mountain.png", "Ubuntu-Mate-Cold-no-logo.png"),  # the three keys of events/sqs-s3-batch.json
    ("uploads/city at night.webp", "adwaita-d.webp"),
    ("uploads/notes.jpg", None),  # a text file named .jpg
    ("uploads/2026/elephants 5640x3172.jpg", "Elephants_5640x3172.jpg"),  # 16 MB progressive JPEG
    ("uploads/2026/elephants-4k.jpg", "Elephants_3840x2160.jpg"),
    ("uploads/2026/dune.jpg", "Dune.jpg"),
    ("uploads/2026/été/fraîche fleur+rosée.jpg", "FreshFlower.jpg"),  # unicode, space and +
    ("uploads/2026/silk.png", "Silk.png"),
    ("uploads/2026/pixels.webp", "pixels-l.webp"),
    ("uploads/2026/flower-display-p3.jpg", "FreshFlower.jpg"),  # declared Display P3 below, as an iPhone writes
    ("uploads/2026/storm-truncated.jpg", "Storm.jpg"),  # cut in half below
    ("uploads/2026/deleted-before-processing.jpg", "Aqua.jpg"),  # deleted before the event is delivered
    ("uploads/alice/IMG_20220814_141231.jpg", "Dune.jpg"),  # with a real phone's EXIF, spliced in below
    # An iPhone 8 Plus's own HEIC: 48 HEVC tiles stored landscape, turned upright by the container.
    ("uploads/alice/iphone-0001.HEIC", "iphone-8-plus-turned.heic"),
    # A tall picture whose colour runs off-centre: the square avatars' centre and attention crops differ.
    ("uploads/2026/flow-portrait.jpg", "Flow/contents/images/720x1440.jpg"),
]
# Uploaded later, on its own: the smaller version of a photo already filed, which the
# thumbnailer files as that photo's near-duplicate (duplicate_of).
LATER_COPY = ("uploads/2026/elephants-small.jpg", "Elephants.jpg")
PHONE_EXIF = ROOT / "imaging/testdata/exif/nokia-8.3-5g.tiff"
DISPLAY_P3 = ROOT / "imaging/testdata/icc/DisplayP3-v4.icc"


def heic_fixtures() -> dict[str, Path]:
    """The HEIC photos (real phones' and made from the corpus), made if missing, by name."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import heic_fixtures as fixtures
    import pillow_heif

    fixtures.main()
    pillow_heif.register_heif_opener()  # so that image_size reads them too
    return {path.name: path for path in fixtures.OUT.iterdir() if path.suffix in (".heic", ".hif")}


def with_display_p3(jpeg: bytes) -> bytes:
    """The photo's pixel values declared Display P3 (the profile embedded): the thumbnailer must
    convert them to sRGB, or the thumbnail shows duller colours than the photo."""
    from PIL import Image
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, "JPEG", quality=92, icc_profile=DISPLAY_P3.read_bytes())
    return out.getvalue()


def with_phone_exif(jpeg: bytes) -> bytes:
    """The JPEG with a real phone's EXIF block (capture time, camera, GPS) as its APP1 segment."""
    segment = b"Exif\0\0" + PHONE_EXIF.read_bytes()
    return jpeg[:2] + b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment + jpeg[2:]


class Sequencers:
    """S3's per-key event order: increasing hexadecimal strings, as S3 writes them."""

    def __init__(self) -> None:
        self.next = int(time.time() * 1000) << 16

    def __call__(self) -> str:
        self.next += 1
        return f"{self.next:018X}"


def image_size(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return f"{image.width}x{image.height}"


def sqs_batch(bucket: str, objects: list[dict], event: str = "ObjectCreated:Put") -> dict:
    """An SQS batch whose messages are S3 notifications, keys URL-encoded as S3 does."""
    from urllib.parse import quote_plus

    records = []
    for number, obj in enumerate(objects, 1):
        s3_object = {"key": quote_plus(obj["key"], safe="/"), "sequencer": obj["sequencer"]}
        if event.startswith("ObjectCreated"):
            s3_object |= {"size": obj["size"], "eTag": obj["etag"]}
        body = {"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                             "eventTime": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                             "eventName": event,
                             "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                                    "object": s3_object}}]}
        records.append({"messageId": f"demo-{number:04d}", "receiptHandle": "demo", "body": json.dumps(body),
                        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                        "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:photo-uploads-events",
                        "awsRegion": REGION})
    return {"Records": records}


def create_photos_table(dynamodb, name: str) -> None:
    """The photos table as the template makes it: key photo_id, index by-owner on owner and key,
    and the sparse index by-phash-band the near-duplicate lookup queries."""
    key = lambda attribute, kind: {"AttributeName": attribute, "KeyType": kind}  # noqa: E731
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("photo_id", "owner", "key", "phash_band")],
        KeySchema=[key("photo_id", "HASH")],
        GlobalSecondaryIndexes=[{"IndexName": "by-owner", "KeySchema": [key("owner", "HASH"), key("key", "RANGE")],
                                 "Projection": {"ProjectionType": "ALL"}},
                                {"IndexName": "by-phash-band", "KeySchema": [key("phash_band", "HASH"), key("photo_id", "RANGE")],
                                 "Projection": {"ProjectionType": "INCLUDE",
                                                "NonKeyAttributes": ["photo", "key", "phash", "duplicate_of"]}}])


def photo_catalog(aws: dict) -> tuple[str, str, str]:
    """The photos table and topic as the template makes them, and a queue subscribed to the
    topic, standing in for the application that reads the announcements."""
    table = "photos"
    create_photos_table(aws["dynamodb"], table)
    topic = aws["sns"].create_topic(Name="photos")["TopicArn"]
    queue_url = aws["sqs"].create_queue(QueueName="photo-app")["QueueUrl"]
    queue_arn = aws["sqs"].get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    return table, topic, queue_url


def announcements(sqs, queue_url: str) -> list[dict]:
    """Every message the application's queue holds, as (attributes, body), deleted once read."""
    messages = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        for message in batch:
            envelope = json.loads(message["Body"])
            attributes = {name: a["Value"] for name, a in envelope.get("MessageAttributes", {}).items()}
            messages.append({**attributes, "body": json.loads(envelope["Message"])})
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages


def plain(value: dict):
    """A DynamoDB attribute as plain Python."""
    (kind, inner), = value.items()
    return {"S": lambda v: v, "N": lambda v: float(v) if "." in v else int(v), "BOOL": lambda v: v,
            "L": lambda v: [plain(x) for x in v], "M": lambda v: {k: plain(x) for k, x in v.items()}}[kind](inner)


def square_avatars(endpoint: str, aws: dict, bucket: str, images: list[dict]) -> list[dict] | None:
    """The same photos as square avatars (THUMBNAIL_FIT=cover), once cropped centred and once by
    attention, each run filing its records in a table of its own; what each crop kept, side by
    side. The thumbnails are copied under demo-output/avatars/<crop>/."""
    crops = ("centre", "attention")
    rows: dict[str, dict] = {}
    for crop in crops:
        table_name = f"demo-avatars-{crop}"
        create_photos_table(aws["dynamodb"], table_name)
        env = {"THUMBNAIL_SIZES": "256x256", "THUMBNAIL_FIT": "cover", "CROP": crop, "DEST_PREFIX": f"avatars/{crop}/",
               "PHOTOS_TABLE": table_name, "PHOTOS_OWNER_DEPTH": "2"}
        with lambda_function("thumbnailer", endpoint, env, log_name=f"thumbnailer-avatars-{crop}") as invoke:
            ok_invoke, response = invoke(f"thumbnailer-avatars-{crop}.json", sqs_batch(bucket, images))
            if not ok_invoke or response["batchItemFailures"]:
                print(f"  the {crop} avatars failed: {response}")
                return None
        for item in aws["dynamodb"].scan(TableName=table_name)["Items"]:
            if item["photo_id"]["S"].startswith("band:"):
                continue  # the near-duplicate index's band items
            record = {k: plain(v) for k, v in item.items()}
            thumbnail = record["thumbnails"][0]
            local = OUTPUT / "avatars" / crop / thumbnail["key"].removeprefix(f"avatars/{crop}/")
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(aws["s3"].get_object(Bucket=bucket, Key=thumbnail["key"])["Body"].read())
            row = rows.setdefault(record["key"], {"key": record["key"], "photo": f"{record['width']}x{record['height']}"})
            row[crop] = {"file": str(local), "size": f"{thumbnail['width']}x{thumbnail['height']}", **thumbnail["crop"]}
    print("\nThe same photos as square 256x256 avatars (THUMBNAIL_FIT=cover): the part of each photo the centre")
    print("crop and the attention crop kept (left,top width x height, in the photo's pixels):")
    area = lambda c: f"{c['left']},{c['top']} {c['width']}x{c['height']}"
    table([{"key": r["key"], "photo": r["photo"], **{crop: area(r[crop]) for crop in crops},
            "moved": f"{abs(r['attention']['left'] - r['centre']['left']) + abs(r['attention']['top'] - r['centre']['top']):,} px"}
           for r in sorted(rows.values(), key=lambda r: r["key"])], ["key", "photo", *crops, "moved"])
    if len(rows) != len(images) or any(r[c]["size"] != "256x256" for r in rows.values() for c in crops):
        print(f"  expected {len(images)} photos with a 256x256 avatar per crop, found {len(rows)}")
        return None
    return sorted(rows.values(), key=lambda r: r["key"])


def demo_thumbnailer(endpoint: str) -> bool:
    heading("thumbnailer: real photos uploaded to S3, thumbnails written back, bad files recorded, each photo filed and announced")
    sys.path.insert(0, str(ROOT / "scripts"))
    from photos import photos

    corpus = photos()
    heic = heic_fixtures()
    # A file name, or the end of a path where several packages use the same name (720x1440.jpg).
    by_name = {name: heic[name] if name in heic else [p for p in corpus if p.as_posix().endswith("/" + name)][-1]
               for _, name in [*UPLOADS, LATER_COPY] if name}
    aws = clients(endpoint)
    s3 = aws["s3"]
    bucket = "photo-uploads"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    table_name, topic, queue_url = photo_catalog(aws)
    sequencer = Sequencers()
    uploaded = []
    for key, name in UPLOADS:
        data = by_name[name].read_bytes() if name else b"Meeting notes, not a photo.\n"
        if "truncated" in key:
            data = data[: len(data) // 2]
        if "IMG_" in key:
            data = with_phone_exif(data)
        if "display-p3" in key:
            data = with_display_p3(data)
        etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
        uploaded.append({"key": key, "size": len(data), "etag": etag, "source": name or "(text)", "sequencer": sequencer(),
                         "dimensions": image_size(data) if name and "truncated" not in key else "-"})
    s3.delete_object(Bucket=bucket, Key="uploads/2026/deleted-before-processing.jpg")
    print(f"Uploaded {len(uploaded)} files to s3://{bucket}/uploads/ (Debian's wallpaper photos, a text file named .jpg,")
    print("a JPEG cut in half, one deleted again before its event is delivered, one with a phone's EXIF, an iPhone's HEIC).")
    table([{**u, "size": f"{u['size']:,}"} for u in uploaded], ["key", "source", "dimensions", "size"])
    ok = True
    env = {"THUMBNAIL_SIZES": "256x256,1024x1024", "THUMBNAIL_FORMAT": "jpeg", "JPEG_QUALITY": "80",
           "DELETE_WITH_SOURCE": "true", "PHOTOS_TABLE": table_name, "PHOTOS_TOPIC_ARN": topic, "PHOTOS_OWNER_DEPTH": "2"}
    deleted = "uploads/2026/dune.jpg"
    with lambda_function("thumbnailer", endpoint, env) as invoke:
        # Two SQS batches as S3 would send them: each event carries its object's real ETag, and
        # the function reads only that version (If-Match), so the sample events' made-up ETags
        # are replaced. The first batch holds the three uploads of events/sqs-s3-batch.json.
        first, rest = uploaded[:3], uploaded[3:]
        results = []
        for event_file, payload in (("thumbnailer-batch-1.json", sqs_batch(bucket, first)),
                                    ("thumbnailer-batch-2.json", sqs_batch(bucket, rest))):
            ok_invoke, response = invoke(event_file, payload)
            if not ok_invoke:
                return False
            failures = [f["itemIdentifier"] for f in response["batchItemFailures"]]
            print(f"  {len(response['results'])} results, batchItemFailures: {failures or 'none'}")
            ok = ok and not failures
            results += response["results"]
        print("\nWhat the function did with each upload:")
        table(results, ["key", "outcome", "detail"])
        # S3 delivers at least once and out of order: the first batch comes again, and one
        # photo is deleted (its delete event has a newer sequencer than its upload's).
        s3.delete_object(Bucket=bucket, Key=deleted)
        removal = [{**u, "sequencer": sequencer()} for u in uploaded if u["key"] == deleted]
        print(f"\nThe first batch delivered again, and {deleted} deleted:")
        for event_file, payload in (("thumbnailer-batch-1-again.json", sqs_batch(bucket, first)),
                                    ("thumbnailer-delete.json", sqs_batch(bucket, removal, "ObjectRemoved:Delete"))):
            ok_invoke, response = invoke(event_file, payload)
            if not ok_invoke:
                return False
            table(response["results"], ["key", "outcome", "detail"])
            ok = ok and not response["batchItemFailures"]
        key, name = LATER_COPY
        data = by_name[name].read_bytes()
        etag = s3.put_object(Bucket=bucket, Key=key, Body=data)["ETag"].strip('"')
        copy = {"key": key, "size": len(data), "etag": etag, "source": name, "sequencer": sequencer(),
                "dimensions": image_size(data)}
        uploaded.append(copy)
        print(f"\nLater, {key} ({copy['dimensions']}): the smaller version of a photo already filed:")
        ok_invoke, response = invoke("thumbnailer-later-copy.json", sqs_batch(bucket, [copy]))
        if not ok_invoke:
            return False
        table(response["results"], ["key", "outcome", "detail"])
        ok = ok and not response["batchItemFailures"]
    out_dir = OUTPUT / "thumbnails"
    shutil.rmtree(out_dir, ignore_errors=True)
    rows = []
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="thumbnails/").get("Contents", [])
    for obj in sorted(listing, key=lambda o: o["Key"]):
        if obj["Key"].startswith("thumbnails/_failed/"):
            continue
        got = s3.get_object(Bucket=bucket, Key=obj["Key"])
        data = got["Body"].read()
        local = out_dir / obj["Key"].removeprefix("thumbnails/")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        source = urllib.parse.unquote(got["Metadata"].get("source-key", ""))
        original = next((u for u in uploaded if u["key"] == source), {})
        rows.append({"thumbnail": obj["Key"], "from": original.get("dimensions", "?"), "size": image_size(data),
                     "bytes": f"{len(data):,}", "of source": f"{len(data) / max(original.get('size', 1), 1):.2%}",
                     "type": got["ContentType"], "cache-control": got["CacheControl"]})
    print(f"\nThumbnails in s3://{bucket}/thumbnails/ (copied to {out_dir.relative_to(ROOT)}/ to look at):")
    table(rows, ["thumbnail", "from", "size", "bytes", "of source", "type"])
    print(f"  Cache-Control: {rows[0]['cache-control'] if rows else '-'}")
    records = [o for o in listing if o["Key"].startswith("thumbnails/_failed/")]
    print(f"\nRejected uploads, each recorded under s3://{bucket}/thumbnails/_failed/ and acknowledged:")
    failed = [json.loads(s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()) for o in records]
    table(failed, ["source_key", "reason"])
    images = [u for u in uploaded if u["dimensions"] != "-" and "deleted" not in u["key"] and u["key"] != deleted]
    expected_thumbnails = 2 * len(images)
    if len(rows) != expected_thumbnails or len(failed) != 2:
        print(f"  expected {expected_thumbnails} thumbnails and 2 rejection records, found {len(rows)} and {len(failed)}")
        ok = False

    # The records; the near-duplicate index's band items (band:<n>:<photo_id>) are left out.
    items = [{k: plain(v) for k, v in item.items()} for item in aws["dynamodb"].scan(TableName=table_name)["Items"]
             if not item["photo_id"]["S"].startswith("band:")]
    avatars = square_avatars(endpoint, aws, bucket, images)
    ok = ok and avatars is not None
    # What `make pictures` draws (scripts/pictures.py): each upload's source, its record and thumbnails.
    (OUTPUT / "photos.json").write_text(json.dumps({
        "uploads": [{"key": u["key"], "source": str(by_name[u["source"]]) if u["source"] in by_name else None}
                    for u in uploaded],
        "records": items, "rejections": failed, "avatars": avatars or []}, indent=2, ensure_ascii=False, default=str))
    print(f"\nThe photos table ({table_name}), one item per upload (the demo scans it; an application gets an item by")
    print("photo_id or queries the by-owner index):")
    table([{"key": i["key"], "status": i["status"], "format": i.get("format", "-"),
            "size": f"{i['width']}x{i['height']}" if "width" in i else "-",
            "captured_at": i.get("captured_at", "-"), "camera": f"{i.get('camera_make', '')} {i.get('camera_model', '')}".strip() or "-",
            "thumbnails": len(i.get("thumbnails", [])), "colour": i.get("dominant_colour", "-"),
            "placeholder": i.get("placeholder", i.get("reason", "-")),
            "duplicate_of": f"{i['duplicate_of']} ({i['duplicate_distance']} bits)" if "duplicate_of" in i else "-"}
           for i in sorted(items, key=lambda i: i["key"])],
          ["key", "status", "format", "size", "captured_at", "camera", "thumbnails", "colour", "placeholder", "duplicate_of"])
    duplicates = [i for i in items if i.get("duplicate_of")]
    if not any(i["key"] == LATER_COPY[0] and "elephants" in i["duplicate_of"] for i in duplicates):
        print(f"  expected {LATER_COPY[0]} filed as a duplicate of an elephants photo, found {duplicates}")
        ok = False
    alice = aws["dynamodb"].query(TableName=table_name, IndexName="by-owner", KeyConditionExpression="#o = :o",
                                  ExpressionAttributeNames={"#o": "owner"},
                                  ExpressionAttributeValues={":o": {"S": f"{bucket}/uploads/alice/"}})["Items"]
    print(f"  Query by-owner, owner = {bucket}/uploads/alice/: {[plain(i['key']) for i in alice]}")

    messages = announcements(aws["sqs"], queue_url)
    print("\nAnnounced on the photos topic, as the application's subscribed queue received them (one per change;")
    print("the repeated batch announced nothing):")
    table([{"event": m["event"], "key": m["body"]["key"], "key_prefix": m.get("key_prefix", "-"), "format": m.get("format", "-"),
            "thumbnails": len(m["body"].get("thumbnails", m["body"].get("thumbnails_removed", [])))}
           for m in sorted(messages, key=lambda m: (m["body"]["key"], m["event"]))],
          ["event", "key", "key_prefix", "format", "thumbnails"])
    example = next((m for m in messages if m["event"] == "photo.ready" and "IMG_" in m["body"]["key"]), None)
    if example:
        print("  The phone photo's message body:")
        print("  " + json.dumps(example["body"], indent=2, ensure_ascii=False).replace("\n", "\n  "))
    statuses = sorted(i["status"] for i in items)
    expected_statuses = sorted(["ready"] * len(images) + ["rejected"] * 2 + ["deleted"])
    events = sorted(m["event"] for m in messages)
    expected_events = sorted(["photo.ready"] * (len(images) + 1) + ["photo.rejected"] * 2 + ["photo.deleted"])
    if statuses != expected_statuses or events != expected_events:
        print(f"  expected records {expected_statuses} and messages {expected_events}, found {statuses} and {events}")
        ok = False
    return ok


# ---------------------------------------------------------------- across an organization

EXTERNAL_ID = "acme-ops-7f3a9c"
MEMBERS = [
    # name, OU, IAM users
    ("payments-prod", "/Workloads/Prod/", ["deploy-bot", "oncall.payments"]),
    ("search-prod", "/Workloads/Prod/", ["indexer", "oncall.search", "=cmd|' /C calc'!A0"]),
    ("payments-dev", "/Workloads/Dev/", ["dev.bob", "dev.chloe"]),
    ("data-dev", "/Workloads/Dev/", ["etl-runner"]),
    ("alice-sandbox", "/Sandbox/", ["alice"]),
]


def member_client(endpoint: str, service: str, account: str, region: str = REGION):
    """A client acting in `account` (moto's x-moto-account-id header), as that account's own admin would."""
    config = Config(region_name=region, retries={"max_attempts": 2}, s3={"addressing_style": "path"})
    client = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo").client(
        service, endpoint_url=endpoint, config=config)
    client.meta.events.register("before-send", lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
    return client


def build_organization(endpoint: str) -> dict[str, dict]:
    """The organization: this account (the hub) manages it; OUs; the members; member-role.yaml
    deployed to the OUs by a service-managed StackSet; one account that joined after it."""
    org = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo").client(
        "organizations", endpoint_url=endpoint, region_name=REGION)
    organization_id = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    workloads = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    units = {"/Workloads/Prod/": org.create_organizational_unit(ParentId=workloads, Name="Prod")["OrganizationalUnit"]["Id"],
             "/Workloads/Dev/": org.create_organizational_unit(ParentId=workloads, Name="Dev")["OrganizationalUnit"]["Id"],
             "/Sandbox/": org.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]}

    def add(name: str, unit: str) -> str:
        account = org.create_account(AccountName=name, Email=f"aws+{name}@acme.example")["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=units[unit])
        return account

    members = {name: {"id": add(name, unit), "ou": unit, "users": users} for name, unit, users in MEMBERS}
    cloudformation = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo").client(
        "cloudformation", endpoint_url=endpoint, region_name=REGION)
    cloudformation.create_stack_set(
        StackSetName="cloud-ops-toolkit-member", TemplateBody=(ROOT / "member-role.yaml").read_text(),
        PermissionModel="SERVICE_MANAGED", AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Parameters=[{"ParameterKey": "HubRoleArns", "ParameterValue": ",".join(
                        f"arn:aws:iam::{ACCOUNT}:role/cloud-ops-toolkit-{function}FunctionRole-DEMO"
                        for function in ("IamExport", "EksScheduler"))},
                    {"ParameterKey": "OrganizationId", "ParameterValue": organization_id},
                    {"ParameterKey": "ExternalId", "ParameterValue": EXTERNAL_ID}])
    cloudformation.create_stack_instances(StackSetName="cloud-ops-toolkit-member", Regions=[REGION],
                                          DeploymentTargets={"OrganizationalUnitIds": [workloads, units["/Sandbox/"]]})
    # Joined after the StackSet ran, and its automatic deployment has not reached it yet.
    members["legacy-tools"] = {"id": add("legacy-tools", "/Sandbox/"), "ou": "/Sandbox/", "users": ["old-admin"]}
    for member in members.values():
        iam = member_client(endpoint, "iam", member["id"])
        for user in member["users"]:
            iam.create_user(UserName=user, Path="/people/", Tags=[{"Key": "team", "Value": user.split(".")[-1][:20]}])
        iam.create_access_key(UserName=member["users"][0])
        # Each account's first user administers it; the others hold a read policy, or nothing (to remove).
        iam.put_user_policy(UserName=member["users"][0], PolicyName="admin", PolicyDocument=GROUP_DOCUMENTS["AdminAccess"])
        if len(member["users"]) > 1:
            iam.put_user_policy(UserName=member["users"][1], PolicyName="read-reports", PolicyDocument=POLICY)
    return members


def demo_organization(endpoint: str) -> bool:
    heading("Across an AWS Organization: one hub stack, member-role.yaml in every member account")
    members = build_organization(endpoint)
    by_id = {m["id"]: name for name, m in members.items()}
    print(f"This account ({ACCOUNT}) manages an organization of {len(members)} members in /Workloads/Prod/, /Workloads/Dev/")
    print("and /Sandbox/. member-role.yaml went to those OUs by a service-managed StackSet (ExternalId set);")
    print("legacy-tools joined later and has no role yet; alice-sandbox is excluded.")
    table([{"account": m["id"], "name": name, "ou": m["ou"], "iam users": len(m["users"])} for name, m in members.items()],
          ["account", "name", "ou", "iam users"])
    accounts = {"ACCOUNTS": "organization", "MEMBER_EXTERNAL_ID": EXTERNAL_ID}
    ok = True

    # iam-export: one CSV for the organization, and the accounts it could not reach named.
    clients(endpoint)["s3"].create_bucket(Bucket="acme-org-audit", CreateBucketConfiguration={"LocationConstraint": REGION})
    env = {"REPORT_BUCKET": "acme-org-audit", "REPORT_PREFIX": "iam-export-org",
           "EXCLUDE_ACCOUNTS": members["alice-sandbox"]["id"], **accounts}
    with lambda_function("iam-export", endpoint, env, log_name="iam-export-org") as invoke:
        succeeded, result = invoke("iam-export-scheduled.json")
    s3 = clients(endpoint)["s3"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="acme-org-audit", Prefix="iam-export-org/").get("Contents", []))
    summary_key = next((k for k in keys if "/iam-accounts-" in k), None)
    users_key = next((k for k in keys if "/iam-users-" in k), None)
    if succeeded or not summary_key or not users_key or "legacy-tools" not in str(result):
        print("  expected: the run fails naming legacy-tools, after writing the export of the others")
        return False
    print("  (the run failed, as it must: the alarm fires, and the message names the account, the role and the fix)")
    summary = json.loads(s3.get_object(Bucket="acme-org-audit", Key=summary_key)["Body"].read())
    print(f"\ns3://acme-org-audit/{summary_key}: every account with its status")
    table([{**line, "reason": line.get("reason", ""), "admins": line["findings"]["admins"],
            "to remove": line["findings"]["to_remove"]} for line in summary["accounts"]],
          ["account_id", "account_name", "ou_path", "status", "users", "admins", "to remove", "reason"])
    rows = read_csv(s3, "acme-org-audit", users_key)
    print(f"\ns3://acme-org-audit/{users_key}: {len(rows)} users of {len({r['account_id'] for r in rows})} accounts, first rows:")
    table(rows, ["account_id", "account_name", "user_name", "access_key_1_active", "admin", "verdict", "verdict_reason"], limit=6)
    statuses = {line["account_name"]: line["status"] for line in summary["accounts"]}
    ok &= statuses.get("legacy-tools") == "failed" and statuses.get("alice-sandbox") == "excluded"
    ok &= all(statuses.get(name) == "ok" for name in ("payments-prod", "search-prod", "payments-dev", "data-dev"))

    # eks-scheduler: clusters in two regions of several accounts, one needing a cluster in another account.
    shared_db = f"{members['data-dev']['id']}/us-east-1/shared-db"
    clusters = [("payments-prod", REGION, "payments-api", {"dependency": shared_db}, ("workers", 2, 4, 8)),
                ("search-prod", REGION, "search", {}, ("indexers", 1, 3, 6)),
                ("data-dev", "us-east-1", "shared-db", {}, ("db", 1, 2, 3)),
                ("payments-dev", "us-east-1", "payments-api-dev", {}, ("workers", 0, 2, 4))]
    for member, region, name, tags, (nodegroup, low, desired, high) in clusters:
        eks = member_client(endpoint, "eks", members[member]["id"], region)
        eks.create_cluster(name=name, roleArn=EKS_ROLE, resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
                           tags={"auto-stop": "true", "auto-start": "true", **tags})
        eks.create_nodegroup(clusterName=name, nodegroupName=nodegroup, nodeRole=EKS_ROLE, subnets=["subnet-0a1b2c3d"],
                             scalingConfig={"minSize": low, "desiredSize": desired, "maxSize": high})

    def sizes() -> dict[str, str]:
        found = {}
        for member, region, name, _, (nodegroup, *_rest) in clusters:
            eks = member_client(endpoint, "eks", members[member]["id"], region)
            scaling = eks.describe_nodegroup(clusterName=name, nodegroupName=nodegroup)["nodegroup"]["scalingConfig"]
            found[f"{members[member]['id']}/{region}/{name}"] = f"{scaling['minSize']}/{scaling['desiredSize']}/{scaling['maxSize']}"
        return found

    print(f"\neks-scheduler across the organization, REGIONS={REGION},us-east-1; payments-api needs {shared_db}:")
    before = sizes()
    env = {"REGIONS": f"{REGION},us-east-1", "DEFAULT_TIMEZONE": "UTC",
           "EXCLUDE_ACCOUNTS": f"{members['alice-sandbox']['id']},{members['legacy-tools']['id']}", **accounts}
    stopped = started = {}
    # This account's staging-ml (from the eks-scheduler demo) runs Karpenter: its API's stand-in again.
    with kube_api("staging-ml", "demo") as (kube_url, _), \
            lambda_function("eks-scheduler", endpoint, {**env, "KUBERNETES_ENDPOINT_URLS": f"staging-ml={kube_url}"},
                            log_name="eks-scheduler-org") as invoke:
        stop_ok, stopped = invoke("eks-stop.json")
        after_stop = sizes()
        start_ok, started = invoke("eks-start.json")
    if not (stop_ok and start_ok):
        return False
    table([{"cluster": key, "account": by_id.get(key.split("/")[0], key.split("/")[0]), "before": before[key],
            "after stop": after_stop[key], "after start": size} for key, size in sizes().items()],
          ["cluster", "account", "before", "after stop", "after start"])
    print(f"  stop waves (in reverse): {stopped['waves'].get('stop')}")
    print(f"  start waves: {started['waves'].get('start')}")
    ok &= sizes() == before and all(size.split("/")[1] == "0" for size in after_stop.values())

    # cost-report: by account (named from Organizations) and team, from the management account.
    report_day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
    first = min((report_day.replace(day=1) - dt.timedelta(days=1)).replace(day=1), report_day - dt.timedelta(days=29))
    spend = [(members["payments-prod"]["id"], "team$payments", 182.0), (members["search-prod"]["id"], "team$search", 96.5),
             (members["search-prod"]["id"], "team$", 31.2), (members["payments-dev"]["id"], "team$payments", 24.8),
             (members["data-dev"]["id"], "team$data", 12.3), (ACCOUNT, "team$platform", 8.9)]
    results, day = [], first
    while day <= report_day:
        groups = [{"Keys": [account, team], "Metrics": {"UnblendedCost": {"Amount": f"{amount:.2f}", "Unit": "USD"}}}
                  for account, team, amount in spend]
        results.append({"TimePeriod": {"Start": day.isoformat(), "End": (day + dt.timedelta(days=1)).isoformat()},
                        "Total": {}, "Groups": groups, "Estimated": False})
        day += dt.timedelta(days=1)
    page = {"ResultsByTime": results, "DimensionValueAttributes": [], "GroupDefinitions": []}
    request = urllib.request.Request(f"{endpoint}/moto-api/static/ce/cost-and-usage-results",
                                     data=json.dumps({"results": [page]}).encode(),
                                     headers={"content-type": "application/json"}, method="POST")
    urllib.request.urlopen(request).close()
    s3.create_bucket(Bucket="acme-finops-org", CreateBucketConfiguration={"LocationConstraint": REGION})
    env = {"REPORT_BUCKET": "acme-finops-org", "GROUP_BY": "LINKED_ACCOUNT,TAG:team", "TOP_N": "8"}
    with lambda_function("cost-report", endpoint, env, log_name="cost-report-org") as invoke:
        cost_ok, costs = invoke("cost-report-scheduled.json")
    if not cost_ok:
        return False
    print(f"\ncost-report from the management account, GROUP_BY=LINKED_ACCOUNT,TAG:team "
          f"({costs['cost_explorer_requests']} Cost Explorer requests; credits and refunds left out):")
    table([{"account · team": line["name"], "amount": f"{float(line['amount']):,.2f} USD", "change": line["change"]}
           for line in costs["top"]], ["account · team", "amount", "change"])
    ok &= any("untagged" in line["name"] for line in costs["top"]) and any("payments-prod (" in line["name"] for line in costs["top"])
    return bool(ok)


# ---------------------------------------------------------------- photos app (photos-api)

APP_USERS = {"alice@example.com": "Alice-Photos-2026", "bob@example.com": "Bob-Photos-2026"}
APP_UPLOADS = {
    "alice@example.com": [("Dune.jpg", "image/jpeg"), ("FreshFlower.jpg", "image/jpeg"), ("Silk.png", "image/png"),
                          ("adwaita-d.webp", "image/webp"), ("iphone-13-pro.heic", "image/heic")],
    "bob@example.com": [("Elephants_3840x2160.jpg", "image/jpeg"), (None, "image/jpeg")],  # None: text named .jpg
}


def api_call(url: str, method: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def demo_photos_app(endpoint: str) -> bool:
    heading("photos-api: two users sign in, upload through the API as a browser does, and each sees only their own gallery")
    import requests

    sys.path.insert(0, str(ROOT / "scripts"))
    from photos import photos

    by_name = {path.name: path for path in photos()} | heic_fixtures()
    aws = clients(endpoint)
    bucket, catalogue = "photo-app", "photo-app-catalogue"
    aws["s3"].create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    create_photos_table(aws["dynamodb"], catalogue)
    topic = aws["sns"].create_topic(Name="photo-app-announcements")["TopicArn"]
    # The user pool where a browser's unsigned InitiateAuth finds it: the emulator's default region.
    cognito = boto3.session.Session(aws_access_key_id="demo", aws_secret_access_key="demo").client(
        "cognito-idp", endpoint_url=endpoint, region_name="us-east-1")
    pool = cognito.create_user_pool(PoolName="photos", UsernameAttributes=["email"])["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="photos-page",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    for user, password in APP_USERS.items():
        cognito.admin_create_user(UserPoolId=pool, Username=user, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
    print(f"A bucket s3://{bucket}, the catalogue table {catalogue}, a Cognito user pool {pool} with the page's client and")
    print(f"two users ({', '.join(APP_USERS)}). Starting the photos app: the API's handler over HTTP, the thumbnailer")
    print("on each upload the bucket receives (cargo run --example photos-app)…", flush=True)

    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo",
           "AWS_REGION": REGION, "RUST_LOG": "info", "UPLOADS_BUCKET": bucket, "PHOTOS_TABLE": catalogue,
           "PHOTOS_OWNER_DEPTH": "2", "THUMBNAIL_SIZES": "256x256,1024x1024", "DELETE_WITH_SOURCE": "true",
           "JWT_ISSUER": f"https://cognito-idp.us-east-1.amazonaws.com/{pool}", "JWT_AUDIENCE": client_id,
           "JWKS_URL": f"{endpoint}/{pool}/.well-known/jwks.json", "PAGE_COGNITO_ENDPOINT": f"{endpoint}/",
           "PAGE_SIZE": "12", "PHOTOS_TOPIC_ARN": topic, "AWS_XRAY_DAEMON_ADDRESS": XRAY.address}
    subprocess.run(["cargo", "build", "--quiet", "--locked", "-p", "integration-tests", "--example", "photos-app"],
                   cwd=ROOT, check=True)
    log = open(OUTPUT / "photos-app.log", "w")
    app = subprocess.Popen(["cargo", "run", "--quiet", "--locked", "-p", "integration-tests", "--example", "photos-app"],
                           cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    ok = True
    try:
        url = app.stdout.readline().strip()
        if not url:
            raise SystemExit("the photos app did not start; see demo-output/photos-app.log")
        tokens, uploaded = {}, {}
        for user, password in APP_USERS.items():
            answer = cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                           AuthParameters={"USERNAME": user, "PASSWORD": password})
            tokens[user] = answer["AuthenticationResult"]["AccessToken"]
            for name, content_type in APP_UPLOADS[user]:
                data = by_name[name].read_bytes() if name else b"Holiday plans, not a photo.\n"
                filename = name or "holiday.jpg"
                status, signed = api_call(f"{url}uploads", "POST", tokens[user],
                                          {"filename": filename, "content_type": content_type, "bytes": len(data)})
                if status != 201:
                    print(f"  POST /uploads for {filename} answered {status}: {signed}")
                    ok = False
                    continue
                posted = requests.post(signed["url"], data=signed["fields"], files={"file": (filename, data, content_type)},
                                       timeout=60)
                if signed.get("trace_id") and name and not PHOTO_TRACES:
                    PHOTO_TRACES.append(signed["trace_id"])
                ok &= posted.ok
                uploaded.setdefault(user, []).append({"file": filename, "id": signed["id"], "bytes": f"{len(data):,}",
                                                      "posted": posted.status_code})
        for user, rows in uploaded.items():
            print(f"\n{user} asked POST /uploads for each file and posted it to the presigned URL:")
            table(rows, ["file", "id", "bytes", "posted"])
        galleries = {}
        deadline = time.time() + 180
        for user, token in tokens.items():
            while True:
                status, gallery = api_call(f"{url}photos?limit=50", "GET", token)
                done = status == 200 and len(gallery["photos"]) == len(uploaded.get(user, []))
                if done or time.time() > deadline:
                    galleries[user] = gallery
                    ok &= done
                    break
                time.sleep(0.5)
        for user, gallery in galleries.items():
            print(f"\nGET /photos as {user}: one Query of the by-owner index, newest first")
            table([{"id": p["id"], "status": p["status"], "size": f"{p.get('width', '-')}x{p.get('height', '-')}",
                    "colour": p.get("dominant_colour", "-"), "placeholder or reason": p.get("placeholder", p.get("reason", "-")),
                    "thumbnails": len(p.get("thumbnails", []))} for p in gallery["photos"]],
                  ["id", "status", "size", "colour", "placeholder or reason", "thumbnails"])
        alice, bob = list(APP_USERS)
        alices = galleries[alice]["photos"][0]["id"] if galleries[alice]["photos"] else "none"
        status, _ = api_call(f"{url}photos/{urllib.parse.quote(alices)}", "GET", tokens[bob])
        print(f"\nbob asks for one of alice's photos (GET /photos/{alices}): {status}, as for a photo that does not exist.")
        ok &= status == 404
        status, answer = api_call(f"{url}photos", "GET", "not-a-token")
        print(f"A request without a valid token: {status} ({answer.get('error')}).")
        ok &= status == 401

        screenshot = OUTPUT / "photos-gallery.png"
        browser = subprocess.run(
            [sys.executable, str(ROOT / "tests/browser/photos_page.py"), "--url", url, "--username", alice,
             "--password", APP_USERS[alice], "--expect", str(len(uploaded.get(alice, []))), "--screenshot", str(screenshot)],
            cwd=ROOT, capture_output=True, text=True)
        if browser.returncode == 0:
            print(f"\nalice's gallery as headless Chromium shows it: {screenshot.relative_to(ROOT)}")
        else:
            print(f"\nThe gallery's screenshot failed: {(browser.stdout + browser.stderr).strip()}")
            ok = False
        print(f"\nThe photos page: {url}  (sign in as {alice} / {APP_USERS[alice]}, or {bob} / {APP_USERS[bob]})")
        if sys.stdin.isatty() and os.environ.get("CI") is None:
            input("Open it in a browser now; press Enter to stop the photos app and finish the demo… ")
    finally:
        app.stdin.close()
        try:
            app.wait(timeout=15)
        except subprocess.TimeoutExpired:
            app.kill()
        log.close()
    return ok


DEMOS = {"iam-export": demo_iam_export, "eks-scheduler": demo_eks_scheduler, "cost-report": demo_cost_report,
         "thumbnailer": demo_thumbnailer, "photos-app": demo_photos_app, "organization": demo_organization}
LOGS = {"organization": ["iam-export-org", "eks-scheduler-org", "cost-report-org"], "photos-app": []}


def show_traces(results: dict[str, bool]) -> None:
    """One photo's trace from its upload to its announcement, an EKS scheduler run's waves and an
    organization run's accounts, as X-Ray would show them: from what the local daemon received."""
    heading("X-Ray traces: where each run's time went, hop by hop")
    picks = []
    if "photos-app" in results and PHOTO_TRACES:
        picks.append(("photo-trace", "One photo, from the photos API's POST /uploads to its thumbnails' announcement",
                      PHOTO_TRACES[0]))
    organization_runs = set(XRAY.traces_with("account"))
    waves = [t for t in XRAY.traces_with("wave") if t not in organization_runs]
    if "eks-scheduler" in results and waves:
        picks.append(("eks-trace", "The EKS scheduler's busiest run: its waves, the clusters in each, their calls",
                      waves[0]))
    accounts = XRAY.traces_with("account")
    if "organization" in results and accounts:
        picks.append(("organization-trace", "An organization run: the member accounts, side by side", accounts[0]))
    for name, title, trace_id in picks:
        table = traces.rows(XRAY.trace(trace_id))
        traces.print_waterfall(title, trace_id, table)
        traces.write_svg(OUTPUT / f"{name}.svg", title, trace_id, table)
        print(f"  (as a picture: {OUTPUT.relative_to(ROOT)}/{name}.svg; '#' the functions' work, '=' their AWS calls)")
    if not picks:
        print("No demo that traces ran.")


def print_metrics(package: str) -> None:
    """The CloudWatch metrics (Embedded Metric Format lines) the function wrote to its log,
    one row per invocation: what CloudWatch would chart and alarm on once deployed."""
    documents = []
    for line in (OUTPUT / f"{package}.log").read_text(errors="replace").splitlines():
        line = line.strip()
        if line.startswith("{") and '"_aws"' in line:
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    print(f"\n{package}: {len(documents)} invocation(s), metrics as CloudWatch receives them")
    for document in documents:
        names = [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
        values = ", ".join(f"{name}={document[name]:g}" for name in names if document.get(name) not in (None, 0))
        namespace = document["_aws"]["CloudWatchMetrics"][0]["Namespace"]
        print(f"  [{namespace}] {values or 'all zero'}" + (f"  ({document['ErrorType']})" if "ErrorType" in document else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description="Runs the functions against a local AWS emulator.")
    parser.add_argument("--only", choices=sorted(DEMOS), action="append", help="run only these demos")
    args = parser.parse_args()
    OUTPUT.mkdir(exist_ok=True)
    heading("Starting the local AWS emulator (moto server)")
    with moto_server() as endpoint:
        print(f"moto listening on {endpoint}")
        results = {name: demo(endpoint) for name, demo in DEMOS.items() if not args.only or name in args.only}
    show_traces(results)
    heading("Metrics each function emitted")
    for name in results:
        for log in LOGS.get(name, [name]):
            print_metrics(log)
    heading("Summary")
    for name, ok in results.items():
        print(f"  {name}: {'ok' if ok else 'FAILED'}")
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
