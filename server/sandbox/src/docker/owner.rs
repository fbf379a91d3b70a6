//! Who owns a container, and whether that owner is still alive. The owner label is
//! `<host>/<pid>/<start time>` (the start time is field 22 of `/proc/<pid>/stat`, in
//! clock ticks since boot, so a recycled pid is told from the original process).
//!
//! Invariant: reaping removes a container only when its owner is known to be dead: on
//! this host, `/proc` is readable and lists processes, and the pid is absent or now
//! belongs to a process with a different start time. Anything that cannot be
//! determined (no `/proc`, hidden processes, an unreadable or malformed label, another
//! host, an owner that recorded no start time) keeps the container. Everything here is
//! pure over a [`Proc`] view, so tests simulate any `/proc`.

use std::io;

/// A view of `/proc`: the text of a file given its path below `/proc`
/// (`self/stat`, `1234/stat`, `sys/kernel/hostname`).
pub(crate) type Proc<'a> = &'a dyn Fn(&str) -> io::Result<String>;

/// The real `/proc`.
pub(crate) fn real_proc(path: &str) -> io::Result<String> {
    std::fs::read_to_string(std::path::Path::new("/proc").join(path))
}

/// What is known about a container's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// The owning process is running.
    Alive,
    /// The owning process is gone (or its pid now belongs to another process).
    Dead,
    /// Cannot tell; the container must be kept.
    Unknown,
}

/// `<host>/<pid>/<start time>` of process `pid` (`?` for what cannot be read).
pub(crate) fn label(proc: Proc, pid: u32) -> String {
    format!(
        "{}/{pid}/{}",
        hostname(proc).unwrap_or_else(|| "unknown".into()),
        start_ticks(proc, &pid.to_string()).map_or_else(|| "?".into(), |t| t.to_string())
    )
}

/// Whether the owner named by `owner` (a label from [`label`]) is alive.
pub(crate) fn liveness(owner: Option<&str>, proc: Proc) -> Liveness {
    let Some(owner) = owner else {
        return Liveness::Unknown;
    };
    let mut parts = owner.split('/');
    let (Some(host), Some(pid), Some(ticks), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Liveness::Unknown;
    };
    // Another host's processes are not in this `/proc`; without a hostname we cannot
    // tell whether the owner is on this host at all.
    match hostname(proc) {
        Some(me) if me == host => {}
        _ => return Liveness::Unknown,
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return Liveness::Unknown;
    };
    if !lists_processes(proc) {
        return Liveness::Unknown;
    }
    match proc(&format!("{pid}/stat")) {
        Ok(stat) => match (stat_start_ticks(&stat), ticks.parse::<u64>()) {
            (Some(now), Ok(then)) if now == then => Liveness::Alive,
            (Some(_), Ok(_)) => Liveness::Dead,
            // The owner recorded no start time, or the stat is unreadable: the pid
            // exists, but whether it is still the owner cannot be told.
            _ => Liveness::Unknown,
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Liveness::Dead,
        Err(_) => Liveness::Unknown,
    }
}

/// Whether `/proc` is there and shows processes: this process's and pid 1's stat files
/// are readable (with `hidepid`, other users' processes are hidden, pid 1 among them,
/// and an absent pid would prove nothing).
fn lists_processes(proc: Proc) -> bool {
    let readable = |p: &str| proc(p).ok().as_deref().and_then(stat_start_ticks).is_some();
    readable("self/stat") && readable("1/stat")
}

fn hostname(proc: Proc) -> Option<String> {
    proc("sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn start_ticks(proc: Proc, pid: &str) -> Option<u64> {
    stat_start_ticks(&proc(&format!("{pid}/stat")).ok()?)
}

/// Field 22 of a `/proc/<pid>/stat` text (after the parenthesized command name, which
/// may itself contain spaces and parentheses).
fn stat_start_ticks(stat: &str) -> Option<u64> {
    let after = stat.get(stat.rfind(')')? + 2..)?;
    after.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn stat(pid: u32, ticks: u64) -> String {
        format!(
            "{pid} (odd) name) S 1 {pid} {pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 {ticks} 1 1 1"
        )
    }

    /// A `/proc` holding exactly `files`.
    fn fake(files: &[(&str, String)]) -> impl Fn(&str) -> io::Result<String> + use<> {
        let files: HashMap<String, String> = files
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |p: &str| {
            files
                .get(p)
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }
    }

    /// A host `h` where pid 1, this process (pid 10) and pid 42 (started at 500) run.
    fn host() -> impl Fn(&str) -> io::Result<String> {
        fake(&[
            ("sys/kernel/hostname", "h\n".into()),
            ("self/stat", stat(10, 300)),
            ("1/stat", stat(1, 1)),
            ("10/stat", stat(10, 300)),
            ("42/stat", stat(42, 500)),
        ])
    }

    #[test]
    fn the_label_names_host_pid_and_start_time() {
        assert_eq!(label(&host(), 42), "h/42/500");
        assert_eq!(label(&fake(&[]), 42), "unknown/42/?");
        assert_eq!(stat_start_ticks(&stat(7, 123)), Some(123));
    }

    #[test]
    fn a_live_owner_keeps_its_containers() {
        assert_eq!(liveness(Some("h/42/500"), &host()), Liveness::Alive);
        assert_eq!(liveness(Some("h/10/300"), &host()), Liveness::Alive);
    }

    #[test]
    fn a_dead_owner_is_known_dead() {
        assert_eq!(
            liveness(Some("h/77/500"), &host()),
            Liveness::Dead,
            "pid gone"
        );
        assert_eq!(
            liveness(Some("h/42/499"), &host()),
            Liveness::Dead,
            "pid reused by a later process"
        );
    }

    #[test]
    fn without_proc_nothing_is_reaped() {
        let none = fake(&[]);
        assert_eq!(liveness(Some("h/77/500"), &none), Liveness::Unknown);
        assert_eq!(liveness(Some("unknown/77/?"), &none), Liveness::Unknown);
        // A hostname but no process entries (procfs not mounted, only sys exposed).
        let no_pids = fake(&[("sys/kernel/hostname", "h".into())]);
        assert_eq!(liveness(Some("h/77/500"), &no_pids), Liveness::Unknown);
        // What a warden without /proc labels its containers with, seen by one with it.
        assert_eq!(
            liveness(Some(&label(&none, 77)), &host()),
            Liveness::Unknown
        );
    }

    #[test]
    fn undeterminable_owners_are_kept() {
        let h = host();
        assert_eq!(liveness(None, &h), Liveness::Unknown, "no label");
        assert_eq!(liveness(Some("garbage"), &h), Liveness::Unknown);
        assert_eq!(liveness(Some("h/x/500"), &h), Liveness::Unknown);
        assert_eq!(liveness(Some("h/42/500/extra"), &h), Liveness::Unknown);
        assert_eq!(
            liveness(Some("other/77/1"), &h),
            Liveness::Unknown,
            "another host"
        );
        assert_eq!(
            liveness(Some("h/42/?"), &h),
            Liveness::Unknown,
            "the pid exists but the owner recorded no start time"
        );
        // Processes hidden (hidepid): pid 1 is invisible, so absence proves nothing.
        let hidden = fake(&[
            ("sys/kernel/hostname", "h".into()),
            ("self/stat", stat(10, 300)),
        ]);
        assert_eq!(liveness(Some("h/77/500"), &hidden), Liveness::Unknown);
        // The owner's stat exists but cannot be read.
        let denied = |p: &str| match p {
            "42/stat" => Err(io::Error::from(io::ErrorKind::PermissionDenied)),
            other => host()(other),
        };
        assert_eq!(liveness(Some("h/42/1"), &denied), Liveness::Unknown);
    }

    #[test]
    fn the_real_proc_sees_this_process_alive() {
        let me = label(&real_proc, std::process::id());
        if real_proc("self/stat").is_ok() {
            assert_eq!(liveness(Some(&me), &real_proc), Liveness::Alive, "{me}");
        } else {
            assert_eq!(liveness(Some(&me), &real_proc), Liveness::Unknown, "{me}");
        }
    }
}
