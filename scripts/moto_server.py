"""Runs the moto server (the local AWS emulator) on a loopback port.

Prints one line, `listening on http://127.0.0.1:PORT`, once it accepts requests, and
stops when its standard input closes: the test binary or demo that started it holds
the other end, so the server cannot outlive it, however that process ends.

One thing is added to moto: STS `AssumeRole` checks the role's trust policy, as AWS does.
moto hands out credentials for any role ARN, existing or not, whatever the external id;
AWS refuses with `AccessDenied` when the role does not exist, when its trust policy does
not name the caller's account (or a principal in it), or when it requires an
`sts:ExternalId` the request does not carry. Without this, a test of a missing member role
or a wrong external id would pass against a check that never happens.

And four answers are made AWS's, so that the functions' code can be written for AWS alone
(`AwsAnswers`, `BucketOwnerGate`): EKS `UntagResource` removes every key the request names
(moto removed only the first); EKS `DescribeCluster` answers the `computeConfig` (EKS Auto
Mode) `CreateCluster` was given, and an endpoint's access as AWS defaults it (public, not
private) when the request left it out (moto dropped the first and answered only what was sent); the IAM credential report quotes a user name or ARN that holds
a comma, as CSV and AWS do (moto wrote them bare, shifting every later column); and an S3
request whose `x-amz-expected-bucket-owner` is not the bucket's owner is refused with 403
AccessDenied (moto ignored the header).

Identity Center (`SsoAdminAnswers`) gets what moto lacks: a permission set's permissions
boundary (`Put`/`Get`/`DeletePermissionsBoundaryToPermissionSet`; `Get` answers
`ResourceNotFoundException` when there is none), `ListAccountsForProvisionedPermissionSet`
naming every account an assignment provisioned the set to (as `CreateAccountAssignment`
does in AWS; moto named only the caller's), and `DeleteInstance`, so that a test can stand
for the usual account, the one with no instance (moto makes one in every account and region).
IAM `GetPolicy` and `GetPolicyVersion` answer an AWS managed policy (`arn:aws:iam::aws:policy/…`)
in every account, as AWS does, from moto's own copy of their documents; moto knew them only
when told to load all of them, and then listed every one in `GetAccountAuthorizationDetails`,
where AWS lists only those attached.

Two endpoints read or date the test's data without changing any answer: `POST
/_toolkit/age-access-key` dates an access key in the past (`PastMaker`), and `GET
/_toolkit/ses-raw-messages` answers the raw emails SES sent (`Outbox`).

With `AWS_REQUEST_LOG` set to a file, every request a function makes (its user agent names
it: `app/iam-export`, …) is appended there as one JSON line, for the least-privilege check
(`scripts/check_least_privilege.py`): what was asked, of which service, in which account, with
or without a member role's session, and the tags of an EKS resource being tagged or an Auto Scaling group being changed (the
`aws:ResourceTag` its role's conditions read).

    python scripts/moto_server.py [--port 0]
"""

import argparse
import csv
import datetime
import io
import json
import logging
import os
import re
import sys
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote

from moto.autoscaling.models import autoscaling_backends
from moto.core.responses import EmptyResult
from moto.eks.models import eks_backends
from moto.s3.models import s3_backends
from moto.ses.models import ses_backends
from moto.ssoadmin.exceptions import ResourceNotFoundException as SsoResourceNotFound
from moto.ssoadmin.responses import SSOAdminResponse
from moto.eks.responses import EKSResponse
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend, User, get_account_id_from, iam_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server


class TrustPolicyGate:
    """WSGI middleware: refuses an STS AssumeRole that AWS would refuse (see the module doc)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") == "POST" and "sts" in environ.get("HTTP_AUTHORIZATION", ""):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
            params = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            if params.get("Action") == "AssumeRole":
                refusal = self.refusal(environ, params)
                if refusal:
                    return self.deny(start_response, refusal)
        return self.app(environ, start_response)

    @staticmethod
    def caller_account(environ):
        if "HTTP_X_MOTO_ACCOUNT_ID" in environ:
            return environ["HTTP_X_MOTO_ACCOUNT_ID"]
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        key = authorization.split("Credential=", 1)[-1].split("/", 1)[0]
        return get_account_id_from(key)

    def refusal(self, environ, params):
        """The AccessDenied message, or None when AWS would let the caller in."""
        role_arn = params.get("RoleArn", "")
        caller = self.caller_account(environ)
        denied = f"User: arn:aws:sts::{caller}:assumed-role/caller/session is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
        parts = role_arn.split(":")
        if len(parts) < 6 or parts[2] != "iam":
            return None  # not a role in another account: leave it to moto
        account, partition = parts[4], parts[1]
        try:
            role = iam_backends[account][partition].get_role_by_arn(role_arn)
        except Exception:
            return denied
        document = role.assume_role_policy_document
        try:
            policy = json.loads(document if document.lstrip().startswith("{") else unquote(document))
        except (TypeError, ValueError):
            return denied
        statements = policy.get("Statement", [])
        statements = statements if isinstance(statements, list) else [statements]
        for statement in statements:
            if statement.get("Effect") != "Allow" or not self.allows_action(statement.get("Action")):
                continue
            if not self.names_account(statement.get("Principal"), caller):
                continue
            if not self.conditions_hold(statement.get("Condition", {}), params):
                continue
            return None
        return denied

    @staticmethod
    def allows_action(action):
        actions = action if isinstance(action, list) else [action]
        return any(a in ("sts:AssumeRole", "sts:*", "*") for a in actions)

    @staticmethod
    def names_account(principal, account):
        if principal == "*":
            return True
        aws = (principal or {}).get("AWS", []) if isinstance(principal, dict) else []
        aws = aws if isinstance(aws, list) else [aws]
        # A principal in the caller's account: its root, or a role or user there. The
        # caller's own name is not checked: the tests act as an unnamed identity.
        return any(p == "*" or p == account or f":iam::{account}:" in str(p) for p in aws)

    @staticmethod
    def conditions_hold(conditions, params):
        for operator, clauses in conditions.items():
            for key, expected in clauses.items():
                if key.lower() != "sts:externalid":
                    continue  # only the external id is checked
                expected = expected if isinstance(expected, list) else [expected]
                if operator not in ("StringEquals", "StringLike") or params.get("ExternalId") not in expected:
                    return False
        return True

    @staticmethod
    def deny(start_response, message):
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
            f"<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
        ).encode()
        start_response("403 Forbidden", [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
        return [body]


class AwsAnswers:
    """Where moto answers differently from AWS in a way the functions depend on, AWS's answer
    (see the module doc). Applied once, when this module is imported."""

    @staticmethod
    def apply() -> None:
        EKSResponse.untag_resource = AwsAnswers.untag_every_key
        if not getattr(EKSResponse.create_cluster, "keeps_compute_config", False):
            EKSResponse.create_cluster = AwsAnswers.cluster_as_aws_creates_it(EKSResponse.create_cluster)
        if not getattr(User.to_csv, "quotes_commas", False):
            User.to_csv = AwsAnswers.quoted_report_line(User.to_csv)
        if not getattr(IAMBackend.get_policy, "knows_aws_managed", False):
            IAMBackend.get_policy = AwsAnswers.aws_managed_policy(IAMBackend.get_policy)

    @staticmethod
    def aws_managed_policy(get_policy):
        documents = json.loads(aws_managed_policies_data)

        def get(backend, policy_arn):
            if policy_arn in backend.managed_policies:
                return get_policy(backend, policy_arn)
            match = re.fullmatch(r"arn:aws:iam::aws:policy(/.*/|/)([^/]+)", policy_arn)
            data = documents.get(match.group(2)) if match else None
            if data is None or data.get("Path", "/") != match.group(1):
                return get_policy(backend, policy_arn)
            cache = backend.__dict__.setdefault("_toolkit_aws_managed", {})
            if policy_arn not in cache:
                cache[policy_arn] = AWSManagedPolicy.from_data(match.group(2), backend.account_id, backend.region_name, data)
            return cache[policy_arn]

        get.knows_aws_managed = True
        return get

    @staticmethod
    def untag_every_key(response):
        keys = response.querystring.get("tagKeys", [])
        response.eks_backend.untag_resource(response._extract_arn_from_path(), list(keys))
        return EmptyResult()

    @staticmethod
    def cluster_as_aws_creates_it(create_cluster):
        def create(response):
            result = create_cluster(response)
            cluster = response.eks_backend.clusters[response._get_param("name")]
            vpc = cluster.resources_vpc_config
            if isinstance(vpc, dict):
                vpc.setdefault("endpointPublicAccess", True)
                vpc.setdefault("endpointPrivateAccess", False)
            compute = response._get_param("computeConfig")
            if compute is not None:
                cluster.compute_config = compute
            return result

        create.keeps_compute_config = True
        return create

    @staticmethod
    def quoted_report_line(to_csv):
        def quoted(user):
            line = to_csv(user)
            bare = f"{user.name},{user.arn},"
            if not line.startswith(bare):
                return line
            out = io.StringIO()
            csv.writer(out, lineterminator="").writerow([user.name, user.arn])
            return f"{out.getvalue()},{line[len(bare):]}"

        quoted.quotes_commas = True
        return quoted


AwsAnswers.apply()


class SsoAdminAnswers:
    """The Identity Center calls moto lacks or answers unlike AWS (see the module doc)."""

    @staticmethod
    def apply() -> None:
        for name in ("put_permissions_boundary_to_permission_set", "get_permissions_boundary_for_permission_set",
                     "delete_permissions_boundary_from_permission_set", "delete_instance",
                     "list_accounts_for_provisioned_permission_set"):
            setattr(SSOAdminResponse, name, getattr(SsoAdminAnswers, name))

    @staticmethod
    def _permission_set(response):
        return response.ssoadmin_backend._find_permission_set(
            response._get_param("InstanceArn"), response._get_param("PermissionSetArn"))

    @staticmethod
    def put_permissions_boundary_to_permission_set(response):
        SsoAdminAnswers._permission_set(response).permissions_boundary = response._get_param("PermissionsBoundary")
        return "{}"

    @staticmethod
    def get_permissions_boundary_for_permission_set(response):
        boundary = getattr(SsoAdminAnswers._permission_set(response), "permissions_boundary", None)
        if not boundary:
            raise SsoResourceNotFound("The permission set has no permissions boundary.")
        return json.dumps({"PermissionsBoundary": boundary})

    @staticmethod
    def delete_permissions_boundary_from_permission_set(response):
        SsoAdminAnswers._permission_set(response).permissions_boundary = None
        return "{}"

    @staticmethod
    def delete_instance(response):
        backend = response.ssoadmin_backend
        arn = response._get_param("InstanceArn")
        if not any(instance.instance_arn == arn for instance in backend.instances):
            raise SsoResourceNotFound(f"Could not find instance {arn}")
        backend.instances = [instance for instance in backend.instances if instance.instance_arn != arn]
        return "{}"

    @staticmethod
    def list_accounts_for_provisioned_permission_set(response):
        backend = response.ssoadmin_backend
        instance_arn = response._get_param("InstanceArn")
        permission_set_arn = response._get_param("PermissionSetArn")
        accounts = {
            assignment.target_id
            for assignment in backend.account_assignments
            if assignment.instance_arn == instance_arn and assignment.permission_set_arn == permission_set_arn
        }
        accounts.update(backend.list_accounts_for_provisioned_permission_set(instance_arn, permission_set_arn))
        return json.dumps({"AccountIds": sorted(accounts)})


SsoAdminAnswers.apply()


class BusyClock:
    """WSGI middleware: how long the emulator has been busy (at least one request in
    progress), answered at `GET /_toolkit/busy` as `{"busy_seconds": …}`. moto is one Python
    process whose requests take turns, so a benchmark can tell the time its client waited for
    the emulator's own work from the time it spent on the latency it models."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.in_flight = 0
        self.since = 0.0
        self.busy = 0.0

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/_toolkit/busy":
            with self.lock:
                busy = self.busy + (time.monotonic() - self.since if self.in_flight else 0.0)
            body = json.dumps({"busy_seconds": busy}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        with self.lock:
            if self.in_flight == 0:
                self.since = time.monotonic()
            self.in_flight += 1
        try:
            return list(self.app(environ, start_response))
        finally:
            with self.lock:
                self.in_flight -= 1
                if self.in_flight == 0:
                    self.busy += time.monotonic() - self.since


class PastMaker:
    """WSGI middleware: `POST /_toolkit/age-access-key` with `{"account", "user", "key_id",
    "days"}` dates that access key (and its user) `days` ago. moto dates everything at the
    moment it is made, so without this no test could hold a key older than 90 days, as real
    accounts do. It changes the test's data, not how the emulator answers."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/_toolkit/age-access-key":
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        asked = json.loads(environ["wsgi.input"].read(length) or b"{}")
        backend = iam_backends[asked["account"]]["global"]
        user = backend.get_user(asked["user"])
        then = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(days=asked["days"])
        found = [key for key in user.access_keys if key.access_key_id == asked["key_id"]]
        for key in found:
            key.create_date = then
        user.create_date = min(user.create_date, then)
        body = json.dumps({"aged": len(found)}).encode()
        start_response("200 OK" if found else "404 Not Found",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class Outbox:
    """WSGI middleware: `GET /_toolkit/ses-raw-messages?account=…` answers the raw MIME messages
    SES sent for that account (`[{"source", "destinations", "raw_data"}]`), as a recipient would
    receive them. moto keeps them but answers no API that returns them; a test reads what was
    sent, and nothing about how the emulator answers changes."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/_toolkit/ses-raw-messages":
            return self.app(environ, start_response)
        account = parse_qs(environ.get("QUERY_STRING", "")).get("account", ["123456789012"])[0]
        messages = [
            {"source": message.source, "destinations": message.destinations, "raw_data": message.raw_data}
            for message in ses_backends[account]["us-east-1"].sent_messages
            if hasattr(message, "raw_data")
        ]
        body = json.dumps(messages).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class BucketOwnerGate:
    """WSGI middleware: refuses an S3 request naming an expected bucket owner that is not the
    bucket's, as S3 does (403 AccessDenied)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        expected = environ.get("HTTP_X_AMZ_EXPECTED_BUCKET_OWNER")
        if expected and "/s3/" in environ.get("HTTP_AUTHORIZATION", ""):
            bucket = environ.get("PATH_INFO", "").lstrip("/").split("/", 1)[0]
            owner = s3_backends.bucket_accounts.get(bucket, (None, None))[1]
            if owner is not None and owner != expected:
                body = (
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
                    f"<Message>Access Denied</Message><RequestId>{uuid.uuid4()}</RequestId></Error>"
                ).encode()
                start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
                return [body]
        return self.app(environ, start_response)


class RequestLog:
    """WSGI middleware: appends each request a function makes to the file `AWS_REQUEST_LOG`
    names (see the module doc), before the emulator answers it."""

    FUNCTIONS = re.compile(r"\bapp/(iam-export|eks-scheduler|cost-report|thumbnailer|photos-api)\b")
    SCOPE = re.compile(r"Credential=([^/]+)/[0-9]+/([^/]+)/([^/]+)/")

    def __init__(self, app, path):
        self.app = app
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        agent = f"{environ.get('HTTP_X_AMZ_USER_AGENT', '')} {environ.get('HTTP_USER_AGENT', '')}"
        function = self.FUNCTIONS.search(agent)
        scope = self.SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if function and scope:
            self.record(environ, function.group(1), scope)
        return self.app(environ, start_response)

    def record(self, environ, function, scope):
        access_key, region, service = scope.groups()
        body = b""
        if service != "s3":  # an object's bytes say nothing of the permission
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        account = TrustPolicyGate.caller_account(environ)
        path = environ.get("RAW_URI", "").split("?", 1)[0] or environ.get("PATH_INFO", "")
        line = {
            "function": function,
            "service": service,
            "region": region,
            "account": account,
            # A member role's session: its keys are the temporary ones AssumeRole handed out.
            "access_key": access_key[:4],
            "method": environ.get("REQUEST_METHOD"),
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "target": environ.get("HTTP_X_AMZ_TARGET", ""),
            "body": self.what_iam_reads(body.decode("utf-8", "replace")),
        }
        if service == "eks" and path.startswith("/tags/"):
            line["resource_tags"] = self.eks_tags(account, region, unquote(path[len("/tags/"):]))
        if service == "autoscaling":
            line["resource_tags"] = self.group_tags(account, region, body.decode("utf-8", "replace"))
        with self.lock, open(self.path, "a") as log:
            log.write(json.dumps(line) + "\n")

    @staticmethod
    def what_iam_reads(body):
        """A JSON body's names (its strings and numbers at the top, the tags, and the buses of
        events), not its contents (an e-mail's HTML, an item's attributes): a line stays short."""
        if not body.startswith("{"):
            return body[:4096]
        try:
            document = json.loads(body)
        except ValueError:
            return ""
        kept = {key: value for key, value in document.items() if isinstance(value, (str, int, float)) and len(str(value)) < 2048}
        if isinstance(document.get("tags"), dict):
            kept["tags"] = document["tags"]
        if isinstance(document.get("Entries"), list):
            kept["Entries"] = [{"EventBusName": entry.get("EventBusName")} for entry in document["Entries"]]
        return json.dumps(kept)

    @staticmethod
    def eks_tags(account, region, arn):
        backend = eks_backends[account][region]
        name = arn.split(":cluster/", 1)[-1]
        cluster = backend.clusters.get(name)
        return dict(cluster.tags or {}) if cluster else {}


    @staticmethod
    def group_tags(account, region, body):
        """The tags of the Auto Scaling group a request names, before the request changes them."""
        form = {key: values[0] for key, values in parse_qs(body).items()}
        name = form.get("AutoScalingGroupName") or form.get("Tags.member.1.ResourceId")
        group = autoscaling_backends[account][region].autoscaling_groups.get(name) if name else None
        return {tag["Key"]: tag.get("Value", "") for tag in group.tags} if group else {}


class GatedMotoServer(ThreadedMotoServer):
    """moto's threaded server with the trust policy gate in front of it, and its busy clock."""

    def _server_entry(self) -> None:
        app = BucketOwnerGate(TrustPolicyGate(DomainDispatcherApplication(create_backend_app)))
        if os.environ.get("AWS_REQUEST_LOG"):
            app = RequestLog(app, os.environ["AWS_REQUEST_LOG"])
        app = BusyClock(Outbox(PastMaker(app)))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()
    # One line per request, and a traceback for each action the emulator lacks, drown test output.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)

    server = GatedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"listening on http://{host}:{port}", flush=True)
    sys.stdin.read()  # returns at end of file: the parent is gone
    server.stop()


if __name__ == "__main__":
    main()
