//! The machine under the run: CPU pinning (`taskset`) of the relay under
//! test and of the load generator, and the open-files limit (`prlimit`).

use crate::say;

/// CPUs of the relay under test and of this process.
#[derive(Debug, Clone)]
pub(super) struct Pinning {
    pub(super) relay: String,
    pub(super) generator: String,
    pub(super) generator_count: usize,
}

/// Pins this process (and every thread it starts later) to all CPUs but
/// the last, which is left to the relay under test.
pub(super) fn pin_self(wanted: bool, cpus: usize) -> Option<Pinning> {
    if !wanted {
        return None;
    }
    if cpus < 2 {
        say("relay: one CPU: not pinning");
        return None;
    }
    let p = Pinning {
        relay: (cpus - 1).to_string(),
        generator: if cpus == 2 {
            "0".to_owned()
        } else {
            format!("0-{}", cpus - 2)
        },
        generator_count: cpus - 1,
    };
    if taskset(&p.generator, std::process::id()) {
        Some(p)
    } else {
        say("relay: taskset failed: not pinning");
        None
    }
}

/// `taskset -a -p -c CPUS PID` (every thread of PID).
pub(super) fn taskset(cpus: &str, pid: u32) -> bool {
    std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// This process's open-file limit (soft): raised to `want` with `prlimit`
/// when lower (children started later inherit it). Returns the limit now.
pub(super) fn raise_nofile(want: u64) -> u64 {
    let read = || -> u64 {
        std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
            })
            .unwrap_or(0)
    };
    let now = read();
    if now >= want {
        return now;
    }
    let pid = std::process::id().to_string();
    let set = |limit: &str| {
        std::process::Command::new("prlimit")
            .args(["--pid", &pid, &format!("--nofile={limit}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    // Root may raise the hard limit too; others only the soft one.
    if !set(&format!("{want}:{want}")) {
        set(&format!("{want}:"));
    }
    let after = read();
    say(&format!(
        "relay: open files limit {now} → {after} (prlimit; wanted {want})"
    ));
    after
}
