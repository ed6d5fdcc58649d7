"""Every function in template.yaml has its alarms, so a new one cannot be added without them.

- every function: an `Errors` alarm and a `Duration` alarm under its timeout (AWS/Lambda);
- every scheduled function (a Schedule or ScheduleV2 event): a heartbeat alarm on its own
  `Succeeded` metric that treats missing data as breaching, so a run that never happens alarms;
- every alarm: AlarmActions and OKActions, so it tells someone when it fires and when it clears;
- every queue that holds failures (a function's on-failure destination, a schedule's dead-letter
  queue, a queue's redrive target): an alarm that fires on each new failure, not only the first.
  A queue the services send to: NumberOfMessagesSent, summed. A redrive target, which SQS fills
  without counting NumberOfMessagesSent: a rise (DIFF) of ApproximateNumberOfMessagesVisible.

Run by `make lint-template`. `--self-test` also checks that the checks catch what they must, on
copies of the template with one alarm removed or changed.
"""

import copy
import sys

from cfnlint.decode import decode


def refers_to(value, resource):
    return value == {"Ref": resource}


def alarms_for(resources, function, namespace, metric):
    found = []
    for alarm in resources.values():
        if alarm.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = alarm.get("Properties", {})
        if props.get("MetricName") != metric or props.get("Namespace") != namespace:
            continue
        if any(d.get("Name") == "FunctionName" and refers_to(d.get("Value"), function) for d in props.get("Dimensions", [])):
            found.append(props)
    return found


def getatt_target(value):
    """`X` of `!GetAtt X.Arn` (either form), else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def walk(value):
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from walk(child)


def failure_queues(resources):
    """{queue: "sent" or "redrive"}: the queues failures end up in, and how they get there."""
    queues = {}
    for resource in resources.values():
        for node in walk(resource.get("Properties", {})):
            redrive = node.get("RedrivePolicy")
            if isinstance(redrive, dict) and getatt_target(redrive.get("deadLetterTargetArn")):
                queues[getatt_target(redrive["deadLetterTargetArn"])] = "redrive"
            for key in ("OnFailure", "DeadLetterConfig"):
                target = node.get(key)
                if isinstance(target, dict):
                    found = getatt_target(target.get("Destination")) or getatt_target(target.get("Arn"))
                    if found and resources.get(found, {}).get("Type") == "AWS::SQS::Queue":
                        queues.setdefault(found, "sent")
    return queues


def alarms_each_failure(resources, queue, how):
    for alarm in resources.values():
        if alarm.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        props = alarm.get("Properties", {})
        metrics = [props] + [m.get("MetricStat", {}).get("Metric", {}) for m in props.get("Metrics", [])]
        on_queue = any(
            d.get("Name") == "QueueName" and getatt_target(d.get("Value")) == queue
            for metric in metrics
            for d in metric.get("Dimensions", [])
        )
        if not on_queue:
            continue
        if how == "sent" and props.get("MetricName") == "NumberOfMessagesSent" and props.get("Statistic") == "Sum":
            return True
        visible = [m.get("Id") for m in props.get("Metrics", []) if m.get("MetricStat", {}).get("Metric", {}).get("MetricName") == "ApproximateNumberOfMessagesVisible"]
        if how == "redrive" and any(f"DIFF({v})" in str(m.get("Expression", "")) for v in visible for m in props.get("Metrics", [])):
            return True
    return False


def choices(template, value):
    """The values a setting can take: each allowed value of the parameter it names, or itself."""
    if isinstance(value, dict) and "Ref" in value:
        spec = template["Parameters"][value["Ref"]]
        return [str(allowed) for allowed in spec.get("AllowedValues", [spec.get("Default")])]
    return [value]


def resolved(template, value, choice):
    """A number the template gives by a parameter (Ref) or a table keyed by one (Fn::FindInMap),
    for the parameter's value `choice`."""
    if isinstance(value, dict) and "Ref" in value:
        return choice
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        table, _, key = value["Fn::FindInMap"]
        return template["Mappings"][table][str(choice)][key]
    return value


def problems(template):
    resources = template.get("Resources", {})
    globals_timeout = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    found = []
    for queue, how in failure_queues(resources).items():
        if not alarms_each_failure(resources, queue, how):
            expected = "NumberOfMessagesSent, Sum" if how == "sent" else "DIFF of ApproximateNumberOfMessagesVisible"
            found.append(f"failure queue {queue} has no alarm that fires on each new failure ({expected})")
    for name, resource in resources.items():
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            props = resource.get("Properties", {})
            for actions in ("AlarmActions", "OKActions"):
                if not props.get(actions):
                    found.append(f"alarm {name} has no {actions}: it would change state and tell nobody")
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        if not alarms_for(resources, name, "AWS/Lambda", "Errors"):
            found.append(f"function {name} has no Errors alarm (AWS/Lambda Errors, FunctionName: !Ref {name})")
        durations = alarms_for(resources, name, "AWS/Lambda", "Duration")
        for choice in choices(template, props.get("Timeout", globals_timeout)):
            timeout_ms = int(resolved(template, props.get("Timeout", globals_timeout), choice)) * 1000
            if not any(float(resolved(template, p.get("Threshold", 0), choice)) < timeout_ms for p in durations):
                found.append(f"function {name} has no Duration alarm under its timeout ({timeout_ms} ms)")
        events = props.get("Events", {}) or {}
        scheduled = any(e.get("Type") in ("Schedule", "ScheduleV2") for e in events.values())
        if scheduled:
            heartbeats = [
                p
                for p in alarms_for(resources, name, {"Ref": "MetricsNamespace"}, "Succeeded")
                if p.get("TreatMissingData") == "breaching" and p.get("ComparisonOperator") == "LessThanThreshold"
            ]
            if not heartbeats:
                found.append(
                    f"scheduled function {name} has no heartbeat alarm (Succeeded in MetricsNamespace, "
                    "LessThanThreshold, TreatMissingData: breaching)"
                )
    return found


def self_test(template):
    """Each check, on a copy of the template broken in the way it guards against."""
    resources = template["Resources"]
    functions = [n for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"]
    scheduled = [n for n in functions if any(e.get("Type") == "ScheduleV2" for e in resources[n]["Properties"].get("Events", {}).values())]
    cases = []
    for function in functions:
        for metric in ("Errors", "Duration"):
            broken = copy.deepcopy(template)
            for alarm in [n for n, r in broken["Resources"].items() if r.get("Type") == "AWS::CloudWatch::Alarm"]:
                props = broken["Resources"][alarm]["Properties"]
                if props.get("MetricName") == metric and any(refers_to(d.get("Value"), function) for d in props.get("Dimensions", [])):
                    del broken["Resources"][alarm]
            cases.append((f"{function} without its {metric} alarm", broken))
    for function in scheduled:
        broken = copy.deepcopy(template)
        for alarm, resource in broken["Resources"].items():
            props = resource.get("Properties", {})
            if props.get("MetricName") == "Succeeded" and any(refers_to(d.get("Value"), function) for d in props.get("Dimensions", [])):
                props["TreatMissingData"] = "notBreaching"
        cases.append((f"{function}'s heartbeat treating missing data as fine", broken))
    broken = copy.deepcopy(template)
    first_alarm = next(n for n, r in broken["Resources"].items() if r.get("Type") == "AWS::CloudWatch::Alarm")
    del broken["Resources"][first_alarm]["Properties"]["OKActions"]
    cases.append((f"{first_alarm} without OKActions", broken))
    for queue, how in failure_queues(resources).items():
        broken = copy.deepcopy(template)
        for alarm, resource in broken["Resources"].items():
            props = resource.get("Properties", {})
            if props.get("MetricName") == "NumberOfMessagesSent":
                props["MetricName"] = "ApproximateNumberOfMessagesVisible"
            for metric in props.get("Metrics", []):
                if "DIFF(" in str(metric.get("Expression", "")):
                    metric["Expression"] = metric["Expression"].replace("DIFF(", "(")
        cases.append((f"{queue} ({how}) alarmed only on its backlog", broken))
    for table, rows in template.get("Mappings", {}).items():
        for key, row in rows.items():
            if "DurationAlarmMs" in row:
                broken = copy.deepcopy(template)
                broken["Mappings"][table][key]["DurationAlarmMs"] = int(key) * 1000
                cases.append((f"the duration alarm of a {key} s timeout at the timeout itself", broken))
    missed = [what for what, broken in cases if not problems(broken)]
    return len(cases), missed


def main():
    template, matches = decode("template.yaml")
    if matches:
        sys.exit(f"template.yaml does not parse: {matches}")
    found = problems(template)
    for problem in found:
        print(f"template.yaml: {problem}", file=sys.stderr)
    if found:
        sys.exit(1)
    if "--self-test" in sys.argv:
        count, missed = self_test(template)
        if missed:
            sys.exit(f"the alarm checks missed: {'; '.join(missed)}")
        print(f"alarm checks: every function has its alarms; the checks caught all {count} broken copies")


if __name__ == "__main__":
    main()
