//! Where a run's clusters live: one EKS and one Auto Scaling client per account and region, found through the
//! shared fleet (`ACCOUNTS`, `REGIONS`), and every cluster there by its key
//! (`core::cluster_key`). A single-account run has one site, the function's own client,
//! and keys that are plain names, as before.

use std::collections::{BTreeMap, BTreeSet};

use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use shared::accounts::{Account, AccountStatus, Fleet};
use tracing::Instrument as _;

use crate::aws;
use crate::aws::kube::KubeApi;
use crate::aws::kube_token;
use crate::core::{self, ClusterInfo, SiteReport};
use crate::error::EksSchedulerError;

/// The clients of one account and region.
#[derive(Debug, Clone)]
pub struct Site {
    pub eks: aws_sdk_eks::Client,
    /// Self-managed node groups are Auto Scaling groups.
    pub autoscaling: aws_sdk_autoscaling::Client,
    /// What a cluster's Kubernetes API token is signed with: the identity its access entry names.
    pub credentials: Option<SharedCredentialsProvider>,
    pub region: String,
}

impl Site {
    pub fn of(aws: &shared::aws::Aws) -> Self {
        let sdk = aws.sdk_config();
        Self {
            eks: shared::aws_client!(aws_sdk_eks, aws),
            autoscaling: shared::aws_client!(aws_sdk_autoscaling, aws),
            credentials: sdk.credentials_provider(),
            region: sdk.region().map(|region| region.to_string()).unwrap_or_default(),
        }
    }

    /// A client of `info`'s Kubernetes API with a token made now (a token is good for
    /// minutes, so each phase of a run makes its own). `endpoints` (`KUBERNETES_ENDPOINT_URLS`)
    /// sends a cluster elsewhere, by its key or its name.
    pub async fn kube_api(
        &self,
        info: &ClusterInfo,
        endpoints: &BTreeMap<String, String>,
    ) -> Result<KubeApi, EksSchedulerError> {
        let name = core::split_key(&info.name).1;
        let failed = |message: String| EksSchedulerError::Kubernetes {
            cluster: info.name.clone(),
            operation: "make the token".to_owned(),
            status: None,
            message,
        };
        let provider = self.credentials.as_ref().ok_or_else(|| failed("the function has no AWS credentials".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|err| failed(err.to_string()))?;
        let token = kube_token::token(&credentials, &self.region, name, SystemTime::now()).map_err(failed)?;
        match endpoints.get(&info.name).or_else(|| endpoints.get(name)) {
            Some(endpoint) => KubeApi::new(&info.name, endpoint, None, token),
            None => KubeApi::new(&info.name, &info.api.endpoint, info.api.certificate_authority.as_deref(), token),
        }
    }
}

/// The clients of a run, by site (`<account>/<region>`; `""` for a single-account run).
#[derive(Debug, Clone)]
pub struct Sites {
    own: Site,
    clients: BTreeMap<String, Site>,
}

/// What a run found: the clients, every cluster's key, and per account and region what happened there.
#[derive(Debug)]
pub struct Found {
    pub sites: Sites,
    pub existing: BTreeSet<String>,
    pub reports: Vec<SiteReport>,
}

impl Sites {
    /// The clients and the cluster name for a key. A key of a site the run does not reach
    /// gets the function's own clients, where the cluster is then not found.
    pub fn locate<'a>(&'a self, key: &'a str) -> (&'a Site, &'a str) {
        let (site, name) = core::split_key(key);
        (self.clients.get(site).unwrap_or(&self.own), name)
    }
}

/// Lists the clusters of every site. One account or region that cannot be read is reported
/// and the others go on; a run whose accounts cannot even be chosen fails.
pub async fn find_clusters(
    own: &Site,
    fleet: Option<&Fleet>,
    regions: &[String],
    own_region: &str,
) -> Result<Found, EksSchedulerError> {
    let Some(fleet) = fleet else {
        let existing = aws::list_clusters(&own.eks).await?.into_iter().collect();
        let sites = Sites { own: own.clone(), clients: BTreeMap::new() };
        return Ok(Found { sites, existing, reports: Vec::new() });
    };
    let selection = fleet.select().await.map_err(|err| EksSchedulerError::Accounts(err.to_string()))?;
    let regions: Vec<String> = if regions.is_empty() { vec![own_region.to_owned()] } else { regions.to_vec() };
    let per_account = fleet
        .each(&selection.accounts, |account| {
            let regions = &regions;
            async move {
                let aws = match fleet.aws_for(account).await {
                    Ok(aws) => aws,
                    Err(err) => return Err(err.to_string()),
                };
                let mut found = Vec::new();
                for region in regions {
                    let aws = aws.in_region(region);
                    let site = Site::of(&aws);
                    let listing =
                        aws::list_clusters(&site.eks).instrument(tracing::info_span!("region", region = %region));
                    let listed = listing.await.map_err(|err| err.to_string());
                    found.push((region.clone(), site, listed));
                }
                Ok(found)
            }
        })
        .await;

    let mut sites = Sites { own: own.clone(), clients: BTreeMap::new() };
    let (mut existing, mut reports) = (BTreeSet::new(), Vec::new());
    let line = |account: &Account, region: &str, status, clusters, reason: String| SiteReport {
        account_id: account.id.clone(),
        account_name: account.name.clone(),
        ou_path: account.ou_path.clone(),
        region: region.to_owned(),
        status,
        clusters,
        reason,
    };
    for (account, result) in selection.accounts.iter().zip(per_account) {
        match result {
            Err(reason) => reports.push(line(account, "", AccountStatus::Failed, 0, reason)),
            Ok(found) => {
                for (region, clients, listed) in found {
                    let site = core::site_key(&account.id, &region);
                    match listed {
                        Ok(names) => {
                            reports.push(line(account, &region, AccountStatus::Ok, names.len(), String::new()));
                            existing.extend(names.iter().map(|name| core::cluster_key(&site, name)));
                            sites.clients.insert(site, clients);
                        }
                        Err(reason) => reports.push(line(account, &region, AccountStatus::Failed, 0, reason)),
                    }
                }
            }
        }
    }
    for account in &selection.excluded {
        reports.push(line(account, "", AccountStatus::Excluded, 0, String::new()));
    }
    for account in &selection.inactive {
        reports.push(line(account, "", AccountStatus::Inactive, 0, String::new()));
    }
    reports.sort_by(|a, b| (&a.account_id, &a.region).cmp(&(&b.account_id, &b.region)));
    Ok(Found { sites, existing, reports })
}
