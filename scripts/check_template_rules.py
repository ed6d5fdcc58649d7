"""What a deploy with given parameters would be refused for, before CloudFormation refuses it.

Evaluates, as CloudFormation does when a stack is created or updated, each parameter's
constraints (AllowedValues, AllowedPattern, MinValue/MaxValue, MinLength/MaxLength) and each
of the template's `Rules` (its RuleCondition, then its Assertions), for a set of parameter
values over the template's defaults. The rule functions CloudFormation allows are evaluated:
Ref, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Fn::Contains, Fn::EachMemberEquals, Fn::EachMemberIn;
and for the template's Conditions also Condition, Fn::Select, Fn::Split and Fn::Join.

Run by `make lint-template`: a table of deploys of the hub (template.yaml) and of the member
role (member-role.yaml), each with what it must be refused for (or that it must go through), so
every Rule and pattern is shown refusing a broken value; and a table of conditions that decide a
permission, each with the values it must take.

    python scripts/check_template_rules.py [--template template.yaml]
"""

import argparse
import re
import sys

from cfnlint.decode import decode


def evaluate(expression, values, conditions=None):
    """The value of a rule or condition expression, given the parameters' values (and, for
    a condition that names another, the template's conditions)."""
    if isinstance(expression, list):
        return [evaluate(item, values, conditions) for item in expression]
    if not isinstance(expression, dict):
        return expression
    if len(expression) != 1:
        raise ValueError(f"not a rule function: {expression}")
    (name, argument), = expression.items()
    if name == "Ref":
        return values[argument]
    if name == "Condition":
        return evaluate(conditions[argument], values, conditions)
    args = evaluate(argument, values, conditions)
    if name == "Fn::Equals":
        return str(args[0]) == str(args[1])
    if name == "Fn::Not":
        return not args[0]
    if name == "Fn::And":
        return all(args)
    if name == "Fn::Or":
        return any(args)
    if name == "Fn::Contains":
        return str(args[1]) in [str(item) for item in args[0]]
    if name == "Fn::EachMemberEquals":
        return all(str(item) == str(args[1]) for item in args[0])
    if name == "Fn::Select":
        return args[1][int(args[0])]
    if name == "Fn::Split":
        return str(args[1]).split(args[0])
    if name == "Fn::Join":
        return args[0].join(str(item) for item in args[1])
    if name == "Fn::EachMemberIn":
        return all(str(item) in [str(allowed) for allowed in args[1]] for item in args[0])
    raise ValueError(f"{name} is not a function this check evaluates")


def exit_on(problems, label):
    """Prints each problem on stderr after `label`, and exits 1 when there is one."""
    for problem in problems:
        print(f"{label}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)


def parameter_problems(name, spec, value):
    text = str(value)
    problems = []
    if "AllowedValues" in spec and text not in [str(v) for v in spec["AllowedValues"]]:
        problems.append(f"{name}: {text!r} is not one of {spec['AllowedValues']}")
    # A list's pattern holds for each of its items, as CloudFormation checks it.
    items = text.split(",") if spec.get("Type") == "CommaDelimitedList" else [text]
    for item in items:
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
            problems.append(f"{name}: {item!r} does not match its pattern ({spec.get('ConstraintDescription', '')})")
    if spec.get("Type") == "Number":
        try:
            number = float(text)
        except ValueError:
            return problems + [f"{name}: {text!r} is not a number"]
        if "MinValue" in spec and number < float(spec["MinValue"]):
            problems.append(f"{name}: {text} is under {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            problems.append(f"{name}: {text} is over {spec['MaxValue']}")
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        problems.append(f"{name}: shorter than {spec['MinLength']}")
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        problems.append(f"{name}: longer than {spec['MaxLength']}")
    return problems


def unconstrained(template):
    """Free-form parameters (a String with no AllowedValues) without a pattern, or without the
    ConstraintDescription that tells the fix when the pattern refuses a value."""
    missing = []
    for name, spec in template.get("Parameters", {}).items():
        if spec.get("Type") in ("String", "CommaDelimitedList") and "AllowedValues" not in spec:
            for field in ("AllowedPattern", "ConstraintDescription"):
                if field not in spec:
                    missing.append(f"{name} has no {field}")
    return missing


def refusals(template, overrides):
    """Why CloudFormation would refuse a deploy with `overrides`: parameter names and rule names."""
    parameters = template.get("Parameters", {})
    unknown = set(overrides) - set(parameters)
    if unknown:
        raise KeyError(f"no such parameters: {sorted(unknown)}")
    values = {name: overrides.get(name, spec.get("Default")) for name, spec in parameters.items()}
    refused = []
    for name, spec in parameters.items():
        if values[name] is None:
            refused.append(name)  # no default and no value
        elif parameter_problems(name, spec, values[name]):
            refused.append(name)
    if refused:
        return refused  # CloudFormation checks the parameters before the rules
    for rule_name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], values):
            continue
        if not all(evaluate(assertion["Assert"], values) for assertion in rule.get("Assertions", [])):
            refused.append(rule_name)
    return refused


# A deploy that names who hears of the alarms and which clusters the EKS scheduler may scale.
RECIPIENT = {"AlarmEmail": "ops@example.com", "EksClusterNamePattern": "staging-*"}

# (what, parameter values, what it is refused for: [] when it deploys)
CASES = [
    ("the defaults: the alarms would reach nobody, the EKS scheduler scale every cluster", {}, ["AlarmsHaveARecipient", "EksScopeIsChosen"]),
    ("every cluster, acknowledged", {**RECIPIENT, "EksClusterNamePattern": "*", "EksEveryClusterAcknowledged": "true"}, []),
    ("every cluster, unsaid", {**RECIPIENT, "EksClusterNamePattern": "*"}, ["EksScopeIsChosen"]),
    ("every cluster, without the EKS scheduler", {**RECIPIENT, "EksClusterNamePattern": "*", "DeployEksScheduler": "false"}, []),
    ("an alarm e-mail", RECIPIENT, []),
    ("the thumbnailer alone", {**RECIPIENT, "DeployIamExport": "false", "DeployEksScheduler": "false", "DeployCostReport": "false"}, []),
    (
        "no function at all",
        {**RECIPIENT, "DeployIamExport": "false", "DeployEksScheduler": "false", "DeployCostReport": "false", "DeployThumbnailer": "false"},
        ["DeploySomething"],
    ),
    ("the photos API with its catalogue", {**RECIPIENT, "DeployPhotosApi": "true", "PhotosOwnerDepth": "2"}, []),
    ("the photos API, photos filed by the prefix", {**RECIPIENT, "DeployPhotosApi": "true"}, ["PhotosApiNeedsTheCatalogue"]),
    (
        "the photos API without the thumbnailer",
        {**RECIPIENT, "DeployPhotosApi": "true", "PhotosOwnerDepth": "2", "DeployThumbnailer": "false"},
        ["PhotosApiNeedsTheCatalogue"],
    ),
    ("the photos API without a catalogue", {**RECIPIENT, "DeployPhotosApi": "true", "PhotosOwnerDepth": "2", "PhotoCatalog": "false"}, ["PhotosApiNeedsTheCatalogue"]),
    (
        "the photos API with another issuer",
        {**RECIPIENT, "DeployPhotosApi": "true", "PhotosOwnerDepth": "2", "PhotosApiIssuer": "https://issuer.example.com", "PhotosApiAudience": "client"},
        [],
    ),
    ("an issuer without an audience", {**RECIPIENT, "PhotosApiIssuer": "https://issuer.example.com"}, ["PhotosApiIssuerNeedsAnAudience"]),
    ("an issuer that is no https URL", {**RECIPIENT, "PhotosApiIssuer": "issuer.example.com", "PhotosApiAudience": "c"}, ["PhotosApiIssuer"]),
    ("a page origin with a path", {**RECIPIENT, "PhotosApiPageOrigin": "https://photos.example.com/app"}, ["PhotosApiPageOrigin"]),
    ("an existing alarm topic", {"EksClusterNamePattern": "staging-*", "AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}, []),
    ("a trace sample rate", {**RECIPIENT, "TraceSampleRate": "0.25"}, []),
    ("every invocation traced", {**RECIPIENT, "TraceSampleRate": "1"}, []),
    ("a trace sample rate in percent", {**RECIPIENT, "TraceSampleRate": "25"}, ["TraceSampleRate"]),
    ("silence, chosen", {"EksClusterNamePattern": "staging-*", "AlarmsNotifyNobody": "true"}, []),
    ("silence, misspelt", {"AlarmsNotifyNobody": "yes"}, ["AlarmsNotifyNobody"]),
    ("a batch over 10 without a window", {**RECIPIENT, "ThumbnailBatchSize": "50", "ThumbnailBatchWindowSeconds": "0"}, ["LargeBatchesNeedABatchingWindow"]),
    ("a batch over 10 with a window", {**RECIPIENT, "ThumbnailBatchSize": "50", "ThumbnailBatchWindowSeconds": "5"}, []),
    ("reserved concurrency, a number", {**RECIPIENT, "EksSchedulerReservedConcurrency": "1", "CostReportReservedConcurrency": "2"}, []),
    ("reserved concurrency 0", {**RECIPIENT, "EksSchedulerReservedConcurrency": "0"}, ["EksSchedulerReservedConcurrency"]),
    ("reserved concurrency, not a number", {**RECIPIENT, "CostReportReservedConcurrency": "one"}, ["CostReportReservedConcurrency"]),
    ("the thumbnailer's maximum reserved", {**RECIPIENT, "ThumbnailReserveConcurrency": "true"}, []),
    ("the thumbnailer's reserved concurrency a number", {**RECIPIENT, "ThumbnailReserveConcurrency": "5"}, ["ThumbnailReserveConcurrency"]),
    ("a thumbnailer timeout with no visibility timeout", {**RECIPIENT, "ThumbnailTimeoutSeconds": "45"}, ["ThumbnailTimeoutSeconds"]),
    ("a maximum concurrency Lambda refuses", {**RECIPIENT, "ThumbnailMaximumConcurrency": "1"}, ["ThumbnailMaximumConcurrency"]),
    ("accounts with their external id", {**RECIPIENT, "Accounts": "organization", "MemberExternalId": "a-long-shared-secret"}, []),
    ("accounts without an external id", {**RECIPIENT, "Accounts": "organization"}, ["AccountsNeedTheExternalId"]),
    ("the uploads under a folder", {**RECIPIENT, "UploadsPrefix": "photos/2026/"}, []),
    ("the uploads in the whole bucket", {**RECIPIENT, "UploadsPrefix": ""}, ["UploadsPrefix"]),
    ("the uploads without a slash", {**RECIPIENT, "UploadsPrefix": "uploads"}, ["UploadsPrefix"]),
    ("the uploads under thumbnails/", {**RECIPIENT, "UploadsPrefix": "thumbnails/in/"}, ["UploadsPrefix"]),
    ("a sender without @", {**RECIPIENT, "CostReportSesFrom": "costs"}, ["CostReportSesFrom"]),
    ("two senders", {**RECIPIENT, "CostReportSesFrom": "a@example.com,b@example.com"}, ["CostReportSesFrom"]),
    ("recipients", {**RECIPIENT, "CostReportSesFrom": "costs@example.com", "CostReportSesTo": "a@example.com, b@example.com"}, []),
    ("a recipient without @", {**RECIPIENT, "CostReportSesTo": "a@example.com, finops"}, ["CostReportSesTo"]),
    ("schedules", {**RECIPIENT, "IamExportSchedule": "rate(1 day)", "CostReportSchedule": "cron(30 6 * * ? *)"}, []),
    ("a schedule that is no expression", {**RECIPIENT, "EksStopSchedule": "every evening"}, ["EksStopSchedule"]),
    ("a time zone", {**RECIPIENT, "ScheduleTimezone": "America/Argentina/Buenos_Aires"}, []),
    ("a time zone that is an offset", {**RECIPIENT, "ScheduleTimezone": "+02:00"}, ["ScheduleTimezone"]),
    ("a KMS key", {**RECIPIENT, "IamExportKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, []),
    ("a KMS alias", {**RECIPIENT, "CostReportKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:alias/reports"}, ["CostReportKmsKeyArn"]),
    ("an uploads key that is an alias", {**RECIPIENT, "UploadsKmsKeyArn": "alias/photos"}, ["UploadsKmsKeyArn"]),
    ("an alarm topic that is a name", {**RECIPIENT, "AlarmTopicArn": "ops-alarms"}, ["AlarmTopicArn"]),
    ("an alarm address without @", {**RECIPIENT, "AlarmEmail": "ops"}, ["AlarmEmail"]),
    ("a central report bucket", {**RECIPIENT, "ExistingReportBucket": "audit-central", "ExistingReportBucketAccount": "999999999999"}, []),
    ("an owner without its bucket", {**RECIPIENT, "ExistingReportBucketAccount": "999999999999"}, ["ReportBucketAccountNamesAnExistingBucket"]),
    ("an owner that is no account id", {**RECIPIENT, "ExistingReportBucket": "audit-central", "ExistingReportBucketAccount": "audit"}, ["ExistingReportBucketAccount"]),
    ("OUs by id and by path", {**RECIPIENT, "OrganizationalUnits": "ou-ab12-cdef3456, r-ab12,/Workloads/Prod"}, []),
    ("an OU by its name alone", {**RECIPIENT, "OrganizationalUnits": "Prod"}, ["OrganizationalUnits"]),
    ("regions", {**RECIPIENT, "EksRegions": "eu-west-1, us-gov-west-1"}, []),
    ("a region by its city", {**RECIPIENT, "EksRegions": "eu-west-1,Ireland"}, ["EksRegions"]),
    ("a Slack webhook", {**RECIPIENT, "SlackWebhookUrl": "https://hooks.slack.com/services/T0/B0/x"}, []),
    ("a webhook on another host", {**RECIPIENT, "SlackWebhookUrl": "https://example.com/hook"}, ["SlackWebhookUrl"]),
    ("alert thresholds", {**RECIPIENT, "CostReportAlertDailyAbove": "99.50", "CostReportAlertChangePct": "20"}, []),
    ("an alert threshold in words", {**RECIPIENT, "CostReportAlertDailyAbove": "lots"}, ["CostReportAlertDailyAbove"]),
    ("thumbnail sizes", {**RECIPIENT, "ThumbnailSizes": "128x128, 512X512"}, []),
    ("a thumbnail size in words", {**RECIPIENT, "ThumbnailSizes": "big"}, ["ThumbnailSizes"]),
    ("a photos table name", {**RECIPIENT, "ExistingPhotosTable": "photos"}, []),
    ("a photos table that is an ARN", {**RECIPIENT, "ExistingPhotosTable": "arn:aws:dynamodb:eu-west-1:123456789012:table/photos"}, ["ExistingPhotosTable"]),
    ("a photos topic that is a name", {**RECIPIENT, "ExistingPhotosTopicArn": "photos"}, ["ExistingPhotosTopicArn"]),
]


HUB = {"ExternalId": "a-long-shared-secret"}
HUB_ROLES = "arn:aws:iam::111111111111:role/ops-IamExportFunctionRole-AbC123,arn:aws:iam::111111111111:role/ops-EksSchedulerFunctionRole-dEf456"

# member-role.yaml: (what, parameter values, what it is refused for)
MEMBER_CASES = [
    ("the hub's two roles", {**HUB, "HubRoleArns": HUB_ROLES}, []),
    ("the hub's roles inside its organization", {**HUB, "HubRoleArns": HUB_ROLES, "OrganizationId": "o-a1b2c3d4e5"}, []),
    ("no hub role", HUB, ["HubRoleArns"]),
    ("a wildcard for the hub's roles", {**HUB, "HubRoleArns": "arn:aws:iam::111111111111:role/ops-*"}, ["HubRoleArns"]),
    ("the hub account's root", {**HUB, "HubRoleArns": "arn:aws:iam::111111111111:root"}, ["HubRoleArns"]),
    ("an organization id that is an account", {**HUB, "HubRoleArns": HUB_ROLES, "OrganizationId": "111111111111"}, ["OrganizationId"]),
    ("an external id with a space", {**HUB, "HubRoleArns": HUB_ROLES, "ExternalId": "two words"}, ["ExternalId"]),
    ("a cluster pattern that is an ARN", {**HUB, "HubRoleArns": HUB_ROLES, "EksClusterNamePattern": "arn:aws:eks:*"}, ["EksClusterNamePattern"]),
]


# (condition, parameter values, what it must be)
CONDITION_CASES = [
    ("CostReportNamesAccounts", {"CostReportGroupBy": "SERVICE"}, False),
    ("CostReportNamesAccounts", {"CostReportGroupBy": "LINKED_ACCOUNT"}, True),
    ("CostReportNamesAccounts", {"CostReportGroupBy": "SERVICE,LINKED_ACCOUNT"}, True),
    ("CostReportNamesAccounts", {"CostReportGroupBy": "LINKED_ACCOUNT,TAG:team"}, True),
    ("CostReportNamesAccounts", {"CostReportGroupBy": "TAG:LINKED_ACCOUNT"}, False),
    ("UploadsUseKms", {}, False),
    ("UploadsUseKms", {"UploadsKmsKeyArn": "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, True),
    ("AccountsFromOrganization", {"Accounts": "organization"}, True),
    ("AccountsFromOrganization", {"Accounts": "111111111111,222222222222"}, False),
    ("CreateNotificationTopic", {}, True),
    ("CreateNotificationTopic", {"DeployIamExport": "false", "DeployEksScheduler": "false", "DeployCostReport": "false"}, True),
    ("CreateNotificationTopic", {"AlarmTopicArn": "arn:aws:sns:eu-west-1:123456789012:ops"}, False),
    ("CustomTraceSampling", {}, False),
    ("CustomTraceSampling", {"TraceSampleRate": "0.25"}, True),
    ("CreateReportBucket", {"DeployIamExport": "false"}, True),
    # The EKS scheduler writes its savings ledger there too.
    ("CreateReportBucket", {"DeployIamExport": "false", "DeployCostReport": "false"}, True),
    ("CreateReportBucket", {"DeployIamExport": "false", "DeployCostReport": "false", "DeployEksScheduler": "false"}, False),
]


def condition_value(template, condition, overrides):
    values = {name: overrides.get(name, spec.get("Default")) for name, spec in template["Parameters"].items()}
    return bool(evaluate(template["Conditions"][condition], values, template["Conditions"]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--member-template", default="member-role.yaml")
    args = parser.parse_args()
    template, matches = decode(args.template)
    member, member_matches = decode(args.member_template)
    if matches or member_matches:
        sys.exit(f"{args.template} or {args.member_template} does not parse: {matches or member_matches}")
    wrong = [f"{args.template}'s {problem}" for problem in unconstrained(template)]
    wrong += [f"{args.member_template}'s {problem}" for problem in unconstrained(member)]
    for source, cases in ((template, CASES), (member, MEMBER_CASES)):
        for what, overrides, expected in cases:
            got = refusals(source, overrides)
            if sorted(got) != sorted(expected):
                wrong.append(f"{what}: refused for {got or 'nothing'}, expected {expected or 'nothing'}")
    for condition, overrides, expected in CONDITION_CASES:
        got = condition_value(template, condition, overrides)
        if got != expected:
            wrong.append(f"condition {condition} with {overrides}: {got}, expected {expected}")
    exit_on(wrong, args.template)
    print(
        f"rules and patterns: all {len(CASES) + len(MEMBER_CASES)} deploys (the hub's and the member role's) "
        "refused, or not, as they must be; "
        f"all {len(CONDITION_CASES)} conditions as they must be"
    )


if __name__ == "__main__":
    main()
