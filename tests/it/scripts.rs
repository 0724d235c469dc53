//! The test script's prerequisites check (`scripts/prerequisites.sh`): a missing tool stops
//! the run before any test, naming the tool and the command that installs it; run as root (as
//! CI runs it) it installs what is missing with apt-get.

use std::process::Command;

fn prerequisites(env: &[(&str, &str)]) -> (bool, String) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/prerequisites.sh");
    let mut command = Command::new("bash");
    command.arg(script).env_remove("NISHAN_TEST_POSTGRES_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("bash runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_missing_postgresql_server_is_named_with_its_install_command() {
    let (ok, said) = prerequisites(&[("PG_BINDIR", "/nonexistent/postgresql/bin"), ("NISHAN_NO_INSTALL", "1")]);
    assert!(!ok, "{said}");
    assert!(said.contains("missing: the PostgreSQL 15 server (no pg_ctl in /nonexistent/postgresql/bin"), "{said}");
    assert!(said.contains("apt-get install -y --no-install-recommends postgresql-15"), "{said}");
    // A server of one's own needs no local binaries.
    let (ok, said) = prerequisites(&[
        ("PG_BINDIR", "/nonexistent/postgresql/bin"),
        ("NISHAN_NO_INSTALL", "1"),
        ("NISHAN_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:1/postgres"),
    ]);
    assert!(!said.contains("PostgreSQL"), "{said}");
    // Everything else the tests need is on this machine (the check passed to get here: it
    // runs before the tests), so nothing else is named.
    assert!(ok, "{said}");
}

/// Run as root on a machine without the PostgreSQL server, the check installs it with apt-get
/// (here a stand-in `apt-get` first on PATH, which records its arguments and puts a `pg_ctl`
/// where Debian's package would), keeps Debian from creating a cluster of its own, checks again
/// and passes. Run as anyone else it names the command instead (the test above).
#[test]
fn run_as_root_the_check_installs_a_missing_postgresql_server() {
    let dir = std::env::temp_dir().join(format!("nishan-prerequisites-{}", uuid::Uuid::new_v4()));
    let (bin, pg_bin, cluster) = (dir.join("bin"), dir.join("postgresql/15/bin"), dir.join("createcluster.d"));
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("apt-get.log");
    let apt_get = format!(
        "#!/usr/bin/env bash\necho \"$*\" >>'{log}'\nif [[ $1 == install ]]; then mkdir -p '{pg}' && printf '#!/bin/sh\\n' >'{pg}/pg_ctl' && chmod +x '{pg}/pg_ctl'; fi\n",
        log = log.display(),
        pg = pg_bin.display()
    );
    std::fs::write(bin.join("apt-get"), apt_get).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("apt-get"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let (ok, said) = prerequisites(&[
        ("PATH", &path),
        ("PG_BINDIR", pg_bin.to_str().unwrap()),
        ("PG_CREATECLUSTER_DIR", cluster.to_str().unwrap()),
    ]);
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap();
    if root {
        assert!(ok, "{said}");
        assert!(said.contains("installing with apt-get: postgresql-15"), "{said}");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(calls.lines().next(), Some("update -q"), "{calls}");
        assert!(calls.contains("install -y -q --no-install-recommends postgresql-15"), "{calls}");
        assert!(pg_bin.join("pg_ctl").exists());
        let conf = std::fs::read_to_string(cluster.join("nishan-tests.conf")).unwrap();
        assert_eq!(conf.trim(), "create_main_cluster = false");
    } else {
        assert!(!ok, "{said}");
        assert!(said.contains("sudo apt-get install -y --no-install-recommends postgresql-15"), "{said}");
        assert!(!log.exists(), "apt-get is not run by another user");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
