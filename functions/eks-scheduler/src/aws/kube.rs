//! A cluster's Kubernetes API, as far as the scheduler uses it: Karpenter's NodePools
//! (list, read, merge-patch under a `resourceVersion`) and NodeClaims (list one pool's,
//! delete), authenticated by the token of `kube_token`, over TLS trusting only the
//! cluster's own certificate authority.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use crate::core::{NodePool, parse_nodepool};
use crate::error::EksSchedulerError;

const NODEPOOLS: &str = "/apis/karpenter.sh/v1/nodepools";
const NODECLAIMS: &str = "/apis/karpenter.sh/v1/nodeclaims";
/// The label Karpenter puts on a NodeClaim: the NodePool it belongs to.
const NODEPOOL_LABEL: &str = "karpenter.sh/nodepool";
/// The labels of a launched NodeClaim that say what it runs on.
const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
const CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";

/// A NodeClaim: a node Karpenter launched (or is launching) for a NodePool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeClaim {
    pub name: String,
    pub nodepool: String,
    /// Its labels `node.kubernetes.io/instance-type` and `karpenter.sh/capacity-type`, once launched.
    pub instance_type: Option<String>,
    pub capacity_type: Option<String>,
}
/// Tries of one request, and the first wait between them.
const ATTEMPTS: u32 = 3;
const RETRY_WAIT: Duration = Duration::from_millis(500);

/// One cluster's API: its endpoint, and the bearer token for it.
#[derive(Debug, Clone)]
pub struct KubeApi {
    http: reqwest::Client,
    endpoint: String,
    token: String,
    cluster: String,
}

impl KubeApi {
    /// `endpoint` is the cluster's (`https://…eks.amazonaws.com`, from `DescribeCluster`);
    /// `certificate_authority` its base64 PEM (`certificateAuthority.data`), the only root
    /// trusted. Without one (a test's plain-HTTP server) the system's roots apply.
    pub fn new(
        cluster: &str,
        endpoint: &str,
        certificate_authority: Option<&str>,
        token: String,
    ) -> Result<Self, EksSchedulerError> {
        let failed = |message: String| EksSchedulerError::Kubernetes {
            cluster: cluster.to_owned(),
            operation: "connect".to_owned(),
            status: None,
            message,
        };
        let mut builder =
            reqwest::Client::builder().timeout(Duration::from_secs(20)).redirect(reqwest::redirect::Policy::none());
        if let Some(data) = certificate_authority {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|err| failed(format!("the cluster's certificate authority is not base64: {err}")))?;
            // A bundle: EKS may hold more than one while it rotates the authority.
            let certificates = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|certificates| !certificates.is_empty())
                .ok_or_else(|| failed("the cluster's certificate authority holds no PEM certificate".to_owned()))?;
            builder = builder.tls_certs_only(certificates);
        }
        let http = builder.build().map_err(|err| failed(err.to_string()))?;
        Ok(Self { http, endpoint: endpoint.trim_end_matches('/').to_owned(), token, cluster: cluster.to_owned() })
    }

    /// Every NodePool; `None` when the cluster has no NodePool resource (Karpenter is not installed).
    pub async fn nodepools(&self) -> Result<Option<Vec<NodePool>>, EksSchedulerError> {
        let (status, body) = self.call(reqwest::Method::GET, NODEPOOLS, None, "list NodePools").await?;
        if status == 404 {
            return Ok(None);
        }
        self.expect_ok("list NodePools", status, &body)?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        let pools: Result<Vec<NodePool>, String> = items.iter().map(parse_nodepool).collect();
        pools.map(Some).map_err(|message| self.error("list NodePools", Some(status), message))
    }

    pub async fn nodepool(&self, name: &str) -> Result<NodePool, EksSchedulerError> {
        let operation = format!("get NodePool {name}");
        let (status, body) = self.call(reqwest::Method::GET, &format!("{NODEPOOLS}/{name}"), None, &operation).await?;
        self.expect_ok(&operation, status, &body)?;
        parse_nodepool(&body).map_err(|message| self.error(&operation, Some(status), message))
    }

    /// Applies a JSON merge patch. A 409 (the pool changed since its `resourceVersion` was
    /// read) comes back as `EksSchedulerError::Kubernetes` with status 409: read it again.
    pub async fn patch_nodepool(&self, name: &str, patch: &Value) -> Result<(), EksSchedulerError> {
        let operation = format!("patch NodePool {name}");
        let path = format!("{NODEPOOLS}/{name}");
        let (status, body) = self.call(reqwest::Method::PATCH, &path, Some(patch), &operation).await?;
        self.expect_ok(&operation, status, &body)
    }

    /// Every NodeClaim not already being deleted, with the NodePool it belongs to: one request
    /// for all the pools of a cluster.
    pub async fn nodeclaims(&self) -> Result<Vec<NodeClaim>, EksSchedulerError> {
        let (status, body) = self.call(reqwest::Method::GET, NODECLAIMS, None, "list NodeClaims").await?;
        self.expect_ok("list NodeClaims", status, &body)?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        Ok(items
            .iter()
            .filter(|item| item["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|item| {
                let labels = &item["metadata"]["labels"];
                let label = |key: &str| labels[key].as_str().map(str::to_owned);
                Some(NodeClaim {
                    name: item["metadata"]["name"].as_str()?.to_owned(),
                    nodepool: label(NODEPOOL_LABEL)?,
                    instance_type: label(INSTANCE_TYPE_LABEL),
                    capacity_type: label(CAPACITY_TYPE_LABEL),
                })
            })
            .collect())
    }

    /// The names of the NodeClaims of one NodePool not already being deleted.
    pub async fn nodeclaims_of(&self, nodepool: &str) -> Result<Vec<String>, EksSchedulerError> {
        let operation = format!("list the NodeClaims of {nodepool}");
        let path = format!("{NODECLAIMS}?labelSelector={}%3D{nodepool}", NODEPOOL_LABEL.replace('/', "%2F"));
        let (status, body) = self.call(reqwest::Method::GET, &path, None, &operation).await?;
        self.expect_ok(&operation, status, &body)?;
        let items = body["items"].as_array().cloned().unwrap_or_default();
        Ok(items
            .iter()
            .filter(|item| item["metadata"]["deletionTimestamp"].is_null())
            .filter_map(|item| item["metadata"]["name"].as_str().map(str::to_owned))
            .collect())
    }

    /// Deletes a NodeClaim: Karpenter then drains and terminates its node. One already gone is no error.
    pub async fn delete_nodeclaim(&self, name: &str) -> Result<(), EksSchedulerError> {
        let operation = format!("delete NodeClaim {name}");
        let (status, body) =
            self.call(reqwest::Method::DELETE, &format!("{NODECLAIMS}/{name}"), None, &operation).await?;
        if status == 404 {
            return Ok(());
        }
        self.expect_ok(&operation, status, &body)
    }

    /// One request, tried again (twice, after 0.5 s and 1 s) when the API server is throttling
    /// (429), failing (5xx) or unreachable, as the SDK retries AWS's: every request is safe to
    /// repeat (a patch carries its `resourceVersion`, so one that was applied is refused with
    /// 409 the second time, and read again).
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        patch: Option<&Value>,
        operation: &str,
    ) -> Result<(u16, Value), EksSchedulerError> {
        let (mut wait, mut attempt) = (RETRY_WAIT, 1);
        loop {
            let mut request =
                self.http.request(method.clone(), format!("{}{path}", self.endpoint)).bearer_auth(&self.token);
            if let Some(patch) = patch {
                request = request.header("content-type", "application/merge-patch+json").body(patch.to_string());
            }
            let answered = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Ok(bytes) => Ok((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))),
                        Err(err) => Err(self.error(operation, Some(status), err.to_string())),
                    }
                }
                Err(err) => Err(self.error(operation, None, err.to_string())),
            };
            let transient = match &answered {
                Ok((status, _)) => *status == 429 || *status >= 500,
                Err(_) => true,
            };
            if !transient || attempt == ATTEMPTS {
                return answered;
            }
            tokio::time::sleep(wait).await;
            (wait, attempt) = (wait * 2, attempt + 1);
        }
    }

    fn expect_ok(&self, operation: &str, status: u16, body: &Value) -> Result<(), EksSchedulerError> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        // A Kubernetes `Status` says why in `message`.
        let said = body["message"].as_str().unwrap_or("no message");
        let message = match status {
            401 => format!(
                "the cluster refused the function's token ({said}): the function's role needs an access entry on the cluster in the Kubernetes group eks-scheduler (the template's EksAccessEntryCluster, or aws eks create-access-entry)"
            ),
            403 => format!(
                "the function's access entry may not {operation} ({said}): apply functions/eks-scheduler/rbac.yaml to the cluster, which binds its Kubernetes group eks-scheduler to what the scheduler does"
            ),
            _ => format!("HTTP {status}: {said}"),
        };
        Err(self.error(operation, Some(status), message))
    }

    fn error(&self, operation: &str, status: Option<u16>, message: String) -> EksSchedulerError {
        EksSchedulerError::Kubernetes {
            cluster: self.cluster.clone(),
            operation: operation.to_owned(),
            status,
            message,
        }
    }
}
