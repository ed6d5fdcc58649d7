// Evaluates requests against identity policies with @cloud-copilot/iam-simulate, offline.
// Reads {"cases": [{"id", "policies": [{"name", "policy"}], "request": {...}}]} on stdin and
// writes, for each case, {"id", "result", "allowed_by": [sid, ...], "errors": [...]} as a JSON
// array on stdout. Run by scripts/check_least_privilege.py.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const { cases } = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const results = []
for (const item of cases) {
  const simulation = {
    identityPolicies: item.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    request: item.request,
  }
  const response = await runSimulation(simulation, {})
  if (response.errors) {
    results.push({ id: item.id, result: 'Error', allowed_by: [], errors: [response.errors] })
    continue
  }
  // One result for a resource ARN; one per resource type for "*" (an action without a type).
  const each = response.results ?? (response.result ? [response.result] : [])
  const allowed = each.flatMap((one) =>
    (one.analysis?.identityAnalysis?.allowStatements ?? []).map((s) => s.explain?.identifier ?? ''),
  )
  results.push({
    id: item.id,
    result: response.overallResult,
    allowed_by: [...new Set(allowed)],
    ignored_context_keys: [...new Set(each.flatMap((one) => one.ignoredContextKeys ?? []))],
    errors: [],
  })
}
process.stdout.write(JSON.stringify(results))
