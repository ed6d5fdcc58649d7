//! How the local Lambda holds a function to its memory size (and, when asked, its CPU
//! share), on whatever Linux machine the tests run: cgroup v1 (root), cgroup v2 (root, or
//! a user whose cgroup systemd delegates), or, when no cgroup can be had, by measuring.
//!
//! `LOCAL_LAMBDA_LIMITS` chooses: `auto` (the default: the first of v1, v2 and measured
//! that this machine allows), `cgroup` (a cgroup or a failure naming why) or `measured`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Limits;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Lambda gives one vCPU per 1,769 MB of memory.
const MB_PER_VCPU: u64 = 1769;

/// Where a function's process runs, and so what stops it past its memory size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confinement {
    /// cgroup v1's `memory` (and `cpu`) controllers: the kernel kills the process at the
    /// memory size, as Lambda does.
    CgroupV1(Vec<PathBuf>),
    /// A cgroup v2 group of its own (`memory.max`, `memory.swap.max`, `cpu.max`): the
    /// kernel kills the process at the memory size.
    CgroupV2(PathBuf),
    /// No cgroup: the runner reads the process's peak resident memory (`VmHWM`, a
    /// high-water mark, so no peak between two readings is missed) every 20 ms and after
    /// each answer, and fails the invocation as a crash when the peak passed the memory
    /// size, as Lambda's kill would. It cannot stop the process at the limit, only after.
    Measured,
}

impl Confinement {
    /// The confinement for one function, chosen as `LOCAL_LAMBDA_LIMITS` says; announced
    /// once per test process on stderr (past the test harness's capture), so that every
    /// run says which mode it ran in. Panics, naming the missing capability, when the
    /// limits asked for cannot be had.
    pub fn for_limits(limits: Limits) -> Self {
        let mode = std::env::var("LOCAL_LAMBDA_LIMITS").unwrap_or_else(|_| "auto".to_owned());
        let name = next_name();
        let chosen = match mode.as_str() {
            "measured" => Ok(Confinement::Measured),
            "cgroup" | "auto" => cgroup_v1(&name, limits)
                .or_else(|v1| cgroup_v2(&name, limits).map_err(|v2| format!("cgroup v1: {v1}; cgroup v2: {v2}"))),
            other => panic!("LOCAL_LAMBDA_LIMITS={other}: expected auto, cgroup or measured"),
        };
        let confinement = match chosen {
            Ok(confinement) => confinement,
            Err(why) if mode == "auto" && !limits.cpu_share => {
                announce(&format!("no cgroup can be had ({why}); memory sizes are enforced by measuring"));
                Confinement::Measured
            }
            Err(why) => panic!(
                "the local Lambda cannot limit {} with a cgroup: {why}. This needs root, or a cgroup v2 group \
                 delegated to this user (for example `systemd-run --user --scope -p Delegate=yes make test`){}",
                if limits.cpu_share { "the CPU to Lambda's share" } else { "the memory" },
                if limits.cpu_share { "; measuring cannot hold a process to a CPU share" } else { "" }
            ),
        };
        announce(&confinement.describe());
        confinement
    }

    fn describe(&self) -> String {
        match self {
            Confinement::CgroupV1(groups) => format!("memory limited by cgroup v1 ({})", groups[0].display()),
            Confinement::CgroupV2(group) => format!("memory limited by cgroup v2 ({})", group.display()),
            Confinement::Measured => "memory limited by measuring the peak (no cgroup)".to_owned(),
        }
    }

    /// The `cgroup.procs` files a new process writes its id into before it becomes the function.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.groups().into_iter().map(|group| group.join("cgroup.procs")).collect()
    }

    /// The cgroup folders, to empty and remove.
    pub fn groups(&self) -> Vec<PathBuf> {
        match self {
            Confinement::CgroupV1(groups) => groups.clone(),
            Confinement::CgroupV2(group) => vec![group.clone()],
            Confinement::Measured => Vec::new(),
        }
    }
}

/// Says once per test process how the local Lambda limits memory.
fn announce(line: &str) {
    static SAID: OnceLock<()> = OnceLock::new();
    SAID.get_or_init(|| {
        let _ = writeln!(std::io::stderr(), "local Lambda: {line}");
    });
}

fn next_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("local-lambda-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A memory group limited to the memory size (no swap), and a CPU group with Lambda's share when asked.
fn cgroup_v1(name: &str, limits: Limits) -> Result<Confinement, String> {
    let root = Path::new(CGROUP_ROOT);
    if !root.join("memory").join("memory.limit_in_bytes").is_file() {
        return Err("no v1 memory controller".to_owned());
    }
    let bytes = u64::from(limits.memory_mb) * 1024 * 1024;
    let mut groups = vec![make_group(
        &root.join("memory").join(name),
        &[("memory.limit_in_bytes", bytes.to_string()), ("memory.swappiness", "0".to_owned())],
    )?];
    if limits.cpu_share {
        let quota = 100_000 * u64::from(limits.memory_mb) / MB_PER_VCPU;
        let cpu = make_group(
            &root.join("cpu").join(name),
            &[("cpu.cfs_period_us", "100000".to_owned()), ("cpu.cfs_quota_us", quota.to_string())],
        );
        match cpu {
            Ok(cpu) => groups.push(cpu),
            Err(err) => {
                let _ = std::fs::remove_dir(&groups[0]);
                return Err(err);
            }
        }
    }
    Ok(Confinement::CgroupV1(groups))
}

/// A v2 group beside or under this process's own: under it when this process's group may
/// hand controllers down (the root group, as root in a container), else beside it (a user's
/// delegated slice, where systemd has already enabled the controllers for its children).
fn cgroup_v2(name: &str, limits: Limits) -> Result<Confinement, String> {
    let root = Path::new(CGROUP_ROOT);
    if !root.join("cgroup.controllers").is_file() {
        return Err("no v2 hierarchy at /sys/fs/cgroup".to_owned());
    }
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|lines| lines.lines().find_map(|l| l.strip_prefix("0::").map(str::to_owned)))
        .ok_or("this process's v2 group is not in /proc/self/cgroup")?;
    let own = root.join(own.trim_start_matches('/'));
    let mut settings = vec![
        ("memory.max", (u64::from(limits.memory_mb) * 1024 * 1024).to_string()),
        ("memory.swap.max", "0".to_owned()),
    ];
    if limits.cpu_share {
        settings.push(("cpu.max", format!("{} 100000", 100_000 * u64::from(limits.memory_mb) / MB_PER_VCPU)));
    }
    let mut tried = Vec::new();
    for parent in [own.as_path(), own.parent().unwrap_or(root)] {
        // Fails, harmlessly, where the group holds processes or the user may not change it.
        let wanted = if limits.cpu_share { "+memory +cpu" } else { "+memory" };
        let _ = std::fs::write(parent.join("cgroup.subtree_control"), wanted);
        match make_group(&parent.join(name), &settings) {
            Ok(group) => return Ok(Confinement::CgroupV2(group)),
            Err(err) => tried.push(err),
        }
    }
    Err(tried.join("; "))
}

/// Makes the group and writes its settings; removes it again when a setting cannot be written.
fn make_group(group: &Path, settings: &[(&str, String)]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(group).map_err(|err| format!("cannot make {}: {err}", group.display()))?;
    for (file, value) in settings {
        if let Err(err) = std::fs::write(group.join(file), value) {
            let _ = std::fs::remove_dir(group);
            return Err(format!("cannot write {}: {err}", group.join(file).display()));
        }
    }
    Ok(group.to_path_buf())
}
