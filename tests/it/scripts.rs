//! The test script's prerequisites check (`scripts/prerequisites.sh`): a missing tool stops
//! the run before any test, naming the tool and the command that installs it.

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
